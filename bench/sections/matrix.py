"""The matrix section: 3 servers x rotation on/off x databases, and their ratios."""

from __future__ import annotations

from typing import Any

from core.harness import Bench
from core.report import log, median, per_run, ratio, summary, table, verdict
from core.settings import (
    GENERATOR_CPU_FLAG_PCT,
    KINDS,
    LABELS,
    TARGET_VS_FLOOR,
    TARGET_VS_RECIPE,
)


def matrix(bench: Bench) -> None:
    s = bench.settings
    configs = [(kind, rotate) for rotate in (True, False) for kind in KINDS]
    figures: dict[str, dict[str, Any]] = {}
    for db_kind in s.databases:
        log(f"matrix: {db_kind}: seeding and starting 6 servers")
        servers = {
            (kind, rotate): bench.server(
                kind,
                rotate,
                db_kind,
                f"{db_kind}_{kind}_{'on' if rotate else 'off'}",
            )
            for kind, rotate in configs
        }
        runs: dict[tuple[str, bool], list[dict[str, Any]]] = {c: [] for c in configs}
        try:
            bench.start_all(list(servers.values()))
            for run in range(s.runs):
                order = configs[run % len(configs) :] + configs[: run % len(configs)]
                for config in order:
                    result = bench.load([servers[config]])
                    runs[config].append(result)
                    log(
                        f"matrix: {db_kind} {LABELS[config[0]]:14s} rotation "
                        f"{'on ' if config[1] else 'off'} run {run + 1}/{s.runs}: "
                        f"{result['rps']:7.1f}/s p50 {result['p50_ms']:.2f} ms "
                        f"p99 {result['p99_ms']:.2f} ms errors {result['errors']} "
                        f"generator {result['gen_cpu_pct']:.1f} % CPU, other load "
                        f"{result['other_cpu_pct']:.0f} %"
                    )
        finally:
            for server in servers.values():
                if server.tracebacks():
                    bench.problems.append(
                        f"{server.label} ({db_kind}): tracebacks in {server.logs}"
                    )
                server.stop()
        for (kind, rotate), values in runs.items():
            key = f"{db_kind}/{kind}/{'on' if rotate else 'off'}"
            figures[key] = summary(values)
    bench.results["matrix"] = figures
    print_matrix(bench, figures)


def print_matrix(bench: Bench, figures: dict[str, dict[str, Any]]) -> None:
    s = bench.settings
    rows = []
    for db_kind in s.databases:
        for rotate in ("on", "off"):
            for kind in KINDS:
                f = figures[f"{db_kind}/{kind}/{rotate}"]
                rows.append(
                    [
                        db_kind,
                        LABELS[kind],
                        rotate,
                        f["rps"],
                        f["p50_ms"],
                        f["p99_ms"],
                        f["errors"],
                        f["server_cpu_ms"],
                        f["db_cpu_ms"],
                        f["client_cpu_ms"],
                        per_run(f["runs_rps"]),
                        per_run(f["runs_gen_cpu_pct"], GENERATOR_CPU_FLAG_PCT, 1),
                        per_run(f["runs_other_cpu_pct"]),
                    ]
                )
    bench.emit(
        f"\n== Token endpoint: refresh grant under gunicorn (2 sync workers, "
        f"127.0.0.1), {s.connections} client connections, median of {s.runs} "
        f"run(s) x {s.duration:g} s after {s.warmup:g} s warm-up ==\n"
    )
    bench.emit(
        table(
            [
                "db",
                "server",
                "rotation",
                "refreshes/s",
                "p50 ms",
                "p99 ms",
                "errors",
                "app CPU ms/r",
                "db CPU ms/r",
                "gen CPU ms/r",
                "runs (refreshes/s)",
                "gen CPU %",
                "other load %",
            ],
            rows,
        )
    )
    bench.emit(
        "\napp CPU: the 2 gunicorn workers' CPU per refresh; db CPU: PostgreSQL's "
        "backends' per refresh; gen CPU ms/r: the load generator's per request; "
        "per run: gen CPU %: the load generator's share of the machine (all "
        f"CPUs; '!' above {GENERATOR_CPU_FLAG_PCT:g} %: flagged), other load %: "
        "what everything else on the machine used (noise: other tenants, other "
        "test runs). Latency: request written to response read, 200s only."
    )
    ratio_rows = []
    for db_kind in s.databases:
        for rotate in ("on", "off"):
            p = figures[f"{db_kind}/project/{rotate}"]
            f = figures[f"{db_kind}/floor/{rotate}"]
            r = figures[f"{db_kind}/recipe/{rotate}"]
            # Paired: run k of every server ran back to back in round k,
            # so the median of per-round ratios resists drifting load.
            per_floor = [
                ratio(a, b) for a, b in zip(p["runs_rps"], f["runs_rps"], strict=True)
            ]
            per_recipe = [
                ratio(a, b) for a, b in zip(p["runs_rps"], r["runs_rps"], strict=True)
            ]
            vs_floor = median(per_floor)
            vs_recipe = median(per_recipe)
            ratio_rows.append(
                [
                    db_kind,
                    rotate,
                    vs_floor,
                    f"{verdict(vs_floor >= TARGET_VS_FLOOR)} (>= {TARGET_VS_FLOOR})",
                    " ".join(f"{x:.2f}" for x in per_floor),
                    vs_recipe,
                    f"{verdict(vs_recipe >= TARGET_VS_RECIPE)} (>= {TARGET_VS_RECIPE})",
                    " ".join(f"{x:.2f}" for x in per_recipe),
                    ratio(p["p50_ms"], f["p50_ms"]),
                    ratio(p["p50_ms"], r["p50_ms"]),
                    ratio(f["server_cpu_ms"], p["server_cpu_ms"]),
                    ratio(r["server_cpu_ms"], p["server_cpu_ms"]),
                ]
            )
    bench.emit(
        "\nRatios: throughput project/other, the median of the per-round ratios "
        "(each round runs every server back to back); p50 latency project/other "
        "(lower is better); server CPU per refresh other/project (higher is "
        "better for the project):\n"
    )
    bench.emit(
        table(
            [
                "db",
                "rotation",
                "proj/floor",
                "target",
                "per round",
                "proj/recipe",
                "target",
                "per round",
                "p50 p/f",
                "p50 p/r",
                "CPU f/p",
                "CPU r/p",
            ],
            ratio_rows,
        )
    )
