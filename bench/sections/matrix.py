"""The matrix section: 4 servers x rotation on/off x databases, and their ratios."""

from __future__ import annotations

from typing import Any

from core.common import TOKEN_PATH
from core.harness import Bench
from core.report import (
    load_cells,
    load_headers,
    log,
    median,
    per_round,
    ratio,
    summary,
    table,
    verdict,
)
from core.settings import (
    GENERATOR_CPU_FLAG_PCT,
    KINDS,
    LABELS,
    TARGET_P99_VS_SPEC,
    TARGET_VS_FLOOR,
    TARGET_VS_RECIPE,
    TARGET_VS_SPEC,
)


def matrix(bench: Bench) -> None:
    s = bench.settings
    configs = [(kind, rotate) for rotate in (True, False) for kind in KINDS]
    figures: dict[str, dict[str, Any]] = {}
    for db_kind in s.databases:
        log(f"matrix: {db_kind}: seeding and starting {len(configs)} servers")
        servers = {
            (kind, rotate): bench.server(
                kind,
                rotate,
                db_kind,
                f"{db_kind}_{kind}_{'on' if rotate else 'off'}",
            )
            for kind, rotate in configs
        }
        try:
            bench.start_all(list(servers.values()))
            runs = bench.interleave(
                [(_label(*c), servers[c], "refresh", TOKEN_PATH) for c in configs],
                f"matrix: {db_kind}",
            )
        finally:
            bench.stop(servers.values(), db_kind)
        for kind, rotate in configs:
            key = f"{db_kind}/{kind}/{'on' if rotate else 'off'}"
            figures[key] = summary(runs[_label(kind, rotate)])
    bench.results["matrix"] = figures
    print_matrix(bench, figures)


def _label(kind: str, rotate: bool) -> str:
    return f"{LABELS[kind]} rotation {'on' if rotate else 'off'}"


def print_matrix(bench: Bench, figures: dict[str, dict[str, Any]]) -> None:
    s = bench.settings
    rows = []
    for db_kind in s.databases:
        for rotate in ("on", "off"):
            for kind in KINDS:
                f = figures[f"{db_kind}/{kind}/{rotate}"]
                rows.append([db_kind, LABELS[kind], rotate, *load_cells(f)])
    bench.emit(
        f"\n== Token endpoint: refresh grant under gunicorn (2 sync workers, "
        f"127.0.0.1), {s.connections} client connections, median of {s.runs} "
        f"run(s) x {s.duration:g} s after {s.warmup:g} s warm-up ==\n"
    )
    bench.emit(
        table(
            ["db", "server", "rotation", *load_headers("refreshes/s", "r")],
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
            sf = figures[f"{db_kind}/spec/{rotate}"]
            r = figures[f"{db_kind}/recipe/{rotate}"]
            # Paired: run k of every server ran back to back in round k,
            # so the median of per-round ratios resists drifting load.
            per_floor = per_round(p, f)
            per_spec = per_round(p, sf)
            per_recipe = per_round(p, r)
            vs_floor = median(per_floor)
            vs_spec = median(per_spec)
            vs_recipe = median(per_recipe)
            p99 = ratio(p["p99_ms"], sf["p99_ms"])
            ratio_rows.append(
                [
                    db_kind,
                    rotate,
                    vs_floor,
                    f"{verdict(vs_floor >= TARGET_VS_FLOOR)} (>= {TARGET_VS_FLOOR})",
                    vs_spec,
                    f"{verdict(vs_spec >= TARGET_VS_SPEC)} (>= {TARGET_VS_SPEC})",
                    " ".join(f"{x:.2f}" for x in per_spec),
                    vs_recipe,
                    f"{verdict(vs_recipe >= TARGET_VS_RECIPE)} (>= {TARGET_VS_RECIPE})",
                    ratio(p["p50_ms"], f["p50_ms"]),
                    ratio(p["p50_ms"], sf["p50_ms"]),
                    ratio(p["p99_ms"], f["p99_ms"]),
                    p99,
                    f"{verdict(p99 <= TARGET_P99_VS_SPEC)} (<= {TARGET_P99_VS_SPEC})",
                    ratio(f["server_cpu_ms"], p["server_cpu_ms"]),
                    ratio(sf["server_cpu_ms"], p["server_cpu_ms"]),
                    ratio(r["server_cpu_ms"], p["server_cpu_ms"]),
                ]
            )
    bench.emit(
        "\nRatios of the project to the bare floor (x floor), the spec floor "
        "(x spec) and the Authlib recipe (x recipe): throughput, the median of "
        "the per-round ratios (each round runs every server back to back; per "
        "round: against the spec floor); p50 and p99 latency project/floor "
        "(lower is better); server CPU per refresh other/project (higher is "
        "better for the project):\n"
    )
    bench.emit(
        table(
            [
                "db",
                "rotation",
                "x floor",
                "alarm",
                "x spec",
                "target",
                "per round",
                "x recipe",
                "target",
                "p50 p/f",
                "p50 p/s",
                "p99 p/f",
                "p99 p/s",
                "target",
                "CPU f/p",
                "CPU s/p",
                "CPU r/p",
            ],
            ratio_rows,
        )
    )
