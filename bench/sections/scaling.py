"""The scaling section: the rotating refresh with few and with many stored rows."""

from __future__ import annotations

import time
from typing import Any

from core.harness import Bench
from core.report import log, ratio, summary, table, verdict
from core.servers import Server
from core.settings import LABELS, TARGET_SCALING


def scaling(bench: Bench) -> None:
    """One server per size (separate databases, bulk-seeded), all running;
    their runs interleaved so that a change of machine load hits both."""
    s = bench.settings
    figures: dict[str, Any] = {}
    rows = []
    for db_kind in s.databases:
        for kind in s.scale_kinds:
            servers: dict[int, Server] = {}
            per_size: dict[int, dict[str, Any]] = {}
            runs: dict[int, list[dict[str, Any]]] = {}
            try:
                for size in s.scale_sizes:
                    server = bench.server(
                        kind, True, db_kind, f"scale_{db_kind}_{kind}_{size}"
                    )
                    started = time.perf_counter()
                    server.add_chains(s.connections)
                    seeded = server.seed(background=size)
                    took = time.perf_counter() - started
                    log(
                        f"scaling: {db_kind} {server.label}: {seeded['rows']} rows "
                        f"stored ({took:.0f} s to seed)"
                    )
                    server.start()
                    bench.load([server], mode="count", requests=50)
                    servers[size] = server
                    runs[size] = []
                    per_size[size] = {
                        "rows": seeded["rows"],
                        "seed_seconds": round(took, 1),
                    }
                for run in range(s.runs):
                    order = list(servers) if run % 2 == 0 else list(reversed(servers))
                    for size in order:
                        result = bench.load([servers[size]], duration=s.scale_duration)
                        runs[size].append(result)
                        log(
                            f"scaling: {db_kind} {LABELS[kind]} {size} rows run {run + 1}: "
                            f"{result['rps']:.1f}/s p50 {result['p50_ms']:.2f} ms"
                        )
            except Exception as error:  # report the largest size reached
                bench.problems.append(f"scaling {db_kind} {LABELS[kind]}: {error}")
                log(f"scaling: {db_kind} {LABELS[kind]}: stopped: {error}")
            finally:
                for server in servers.values():
                    server.stop()
            measured = {size: v for size, v in runs.items() if v}
            for size, values in measured.items():
                per_size[size].update(summary(values))
            figures[f"{db_kind}/{kind}"] = {str(k): v for k, v in per_size.items()}
            if len(measured) >= 2:
                small, large = min(measured), max(measured)
                lat = ratio(per_size[large]["p50_ms"], per_size[small]["p50_ms"])
                rows.append(
                    [
                        db_kind,
                        LABELS[kind],
                        per_size[small]["rps"],
                        per_size[small]["p50_ms"],
                        per_size[large]["rps"],
                        per_size[large]["p50_ms"],
                        per_size[large]["p99_ms"],
                        lat,
                        f"{verdict(lat <= TARGET_SCALING)} (<= {TARGET_SCALING})"
                        if kind == "project"
                        else "",
                        ratio(
                            per_size[large]["server_cpu_ms"],
                            per_size[small]["server_cpu_ms"],
                        ),
                    ]
                )
    bench.results["scaling"] = figures
    sizes = s.scale_sizes
    bench.emit(
        f"\n== Scaling: rotation on, {sizes[0]:,} vs {sizes[-1]:,} rows already in "
        f"each token table (bulk-written; one server per size, runs interleaved), "
        f"median of {s.runs} x {s.scale_duration:g} s ==\n"
    )
    bench.emit(
        table(
            [
                "db",
                "server",
                f"{sizes[0]:,}: r/s",
                "p50 ms",
                f"{sizes[-1]:,}: r/s",
                "p50 ms",
                "p99 ms",
                "p50 ratio",
                "target",
                "CPU/r ratio",
            ],
            rows,
        )
    )
