"""The metrics section: what Prometheus metrics cost a rotating refresh.

Under gunicorn: two project servers per database, metrics off
(``OAUTH2_METRICS_PATH`` unset) and on in multiprocess mode
(``PROMETHEUS_MULTIPROC_DIR``, as a deployment with several workers runs
them), driven one after the other in alternating order; the median of the
per-round throughput ratios on/off. In-process (``tools/metrics_overhead.py``):
the same comparison without HTTP, and the added work timed alone.
"""

from __future__ import annotations

from typing import Any

from core.harness import Bench
from core.report import log, median, ratio, summary, table, verdict
from core.servers import BENCH_DIR, run_python
from core.settings import TARGET_METRICS_COST


def metrics(bench: Bench) -> None:
    s = bench.settings
    rows: list[list[Any]] = []
    inproc_rows: list[list[Any]] = []
    results: dict[str, Any] = {}
    for db_kind in s.databases:
        off = bench.server("project", True, db_kind, f"metrics_off_{db_kind}")
        on = bench.server("project", True, db_kind, f"metrics_on_{db_kind}")
        off.extra_env = {"FLASK_OAUTH2_METRICS_PATH": "null"}
        multiproc = on.home / "prometheus"
        multiproc.mkdir(parents=True, exist_ok=True)
        on.extra_env = {"PROMETHEUS_MULTIPROC_DIR": str(multiproc)}
        runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
        rounds: list[float] = []
        try:
            bench.start_all([off, on])
            for run in range(s.runs):
                pair = [("off", off), ("on", on)]
                this: dict[str, float] = {}
                for name, server in pair if run % 2 == 0 else pair[::-1]:
                    result = bench.load([server])
                    runs[name].append(result)
                    this[name] = result["rps"]
                    log(
                        f"metrics: {db_kind} {name:3s} run {run + 1}/{s.runs}: "
                        f"{result['rps']:7.1f}/s p50 {result['p50_ms']:.2f} ms "
                        f"errors {result['errors']}"
                    )
                rounds.append(ratio(this["on"], this["off"]))
        finally:
            for server in (off, on):
                if server.tracebacks():
                    bench.problems.append(
                        f"metrics {db_kind}: tracebacks in {server.logs}"
                    )
                server.stop()
        f_off, f_on = summary(runs["off"]), summary(runs["on"])
        throughput = median(rounds)
        results[f"{db_kind}/gunicorn"] = {
            "off": f_off,
            "on": f_on,
            "round_ratios": rounds,
        }
        rows.append(
            [
                db_kind,
                f_off["rps"],
                f_on["rps"],
                throughput,
                " ".join(f"{x:.3f}" for x in rounds),
                f_off["p50_ms"],
                f_on["p50_ms"],
                f_off["server_cpu_ms"],
                f_on["server_cpu_ms"],
                f"{verdict(throughput >= 1 - TARGET_METRICS_COST)} "
                f"(>= {1 - TARGET_METRICS_COST:.2f})",
            ]
        )

        for mode in ("memory", "multiprocess"):
            server = bench.server("project", True, db_kind, f"metrics_inproc_{mode}")
            env = server.env()
            if mode == "multiprocess":
                directory = server.home / "prometheus"
                directory.mkdir(parents=True, exist_ok=True)
                env["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
            args = [str(BENCH_DIR / "tools" / "metrics_overhead.py")]
            if s.quick:
                args += ["--rounds", "4", "--block", "50", "--hook-calls", "2000"]
            found = run_python(
                args, env, timeout=900, what=f"metrics in-process {db_kind} {mode}"
            )
            results[f"{db_kind}/in-process/{mode}"] = found
            log(
                f"metrics: {db_kind} in-process {mode}: "
                f"{found['ms_per_refresh_off']:.3f} -> "
                f"{found['ms_per_refresh_on']:.3f} ms/refresh; hooks "
                f"+{found['hooks_us_added']:.1f} us"
            )
            inproc_rows.append(
                [
                    db_kind,
                    mode,
                    found["ms_per_refresh_off"],
                    found["ms_per_refresh_on"],
                    found["cost_pct_median_of_rounds"],
                    found["cpu_us_added_per_refresh"],
                    found["hooks_us_added"],
                    found["hooks_added_pct_of_refresh"],
                    found["hooks_added_pct_of_refresh_cpu"],
                ]
            )
    bench.results["metrics"] = results
    bench.emit(
        f"\n== Metrics on/off: project, rotation on, gunicorn (2 sync workers); "
        f"on = multiprocess mode; {s.runs} alternating rounds, median of the "
        f"per-round ratios ==\n"
    )
    bench.emit(
        table(
            [
                "db",
                "off r/s",
                "on r/s",
                "on/off",
                "per round",
                "p50 off",
                "p50 on",
                "CPU ms/r off",
                "CPU ms/r on",
                "target",
            ],
            rows,
        )
    )
    bench.emit(
        "\nIn-process (Flask test client, no HTTP; one process, both apps, "
        "alternating blocks): wall ms per refresh, cost % (median of rounds), "
        "the process's CPU us added per refresh, and the added work timed "
        "alone (request hooks + rotation signal, on minus off, CPU us, least "
        "of the rounds) as a share of a refresh's wall time and of its CPU:\n"
    )
    bench.emit(
        table(
            [
                "db",
                "value store",
                "ms off",
                "ms on",
                "cost %",
                "CPU us added",
                "hooks us added",
                "% of refresh",
                "% of its CPU",
            ],
            inproc_rows,
        )
    )
