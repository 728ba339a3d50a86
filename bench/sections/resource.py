"""The resource section: ``@require_oauth`` calls per second against a floor.

A protected route (``GET`` with ``Authorization: Bearer``), which real
traffic hits far more often than the token endpoint, on three servers under
the same gunicorn command line and engine settings as the matrix:

* ``floor``: ``apps/floor_app.py``'s ``/api/resource``, one indexed ``SELECT`` by
  the access token's digest, an expiry check, JSON;
* ``authlib-recipe``: Authlib's documented ``ResourceProtector`` with
  ``create_bearer_token_validator`` (a ``SELECT`` by the token's value);
* ``project``: ``apps/project_resource_app.py``, the example app plus
  ``/api/resource`` guarded by the project's ``require_oauth`` and answering
  what the floor answers; and the example app's own ``/api/me``, which also
  loads the user (``project /api/me``).

Each connection presents its own valid access token (a fresh grant each).
"""

from __future__ import annotations

from typing import Any

from core.common import RESOURCE_PATH
from core.harness import Bench
from core.report import log, median, per_run, ratio, summary, table, verdict
from core.servers import Server
from core.settings import GENERATOR_CPU_FLAG_PCT, LABELS, TARGET_RESOURCE_VS_FLOOR

#: (label, server kind, route): what is measured, in round order.
ROUTES: list[tuple[str, str, str]] = [
    ("floor", "floor", RESOURCE_PATH),
    ("authlib-recipe", "recipe", RESOURCE_PATH),
    ("project", "project", RESOURCE_PATH),
    ("project /api/me", "project", "/api/me"),
]


def resource(bench: Bench) -> None:
    s = bench.settings
    figures: dict[str, dict[str, Any]] = {}
    for db_kind in s.databases:
        log(f"resource: {db_kind}: seeding and starting 3 servers")
        servers: dict[str, Server] = {}
        for kind in ("floor", "recipe", "project"):
            server = bench.server(kind, True, db_kind, f"resource_{db_kind}_{kind}")
            if kind == "project":
                server.app = "apps.project_resource_app:create_app()"
            servers[kind] = server
        runs: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in ROUTES}
        try:
            for server in servers.values():
                server.add_access_tokens(s.connections)
                server.start()
            for _label, kind, path in ROUTES:  # both workers warm, routes checked
                bench.load(
                    [servers[kind]],
                    mode="count",
                    requests=10,
                    kind="resource",
                    path=path,
                )
            for run in range(s.runs):
                shift = run % len(ROUTES)
                for label, kind, path in ROUTES[shift:] + ROUTES[:shift]:
                    result = bench.load([servers[kind]], kind="resource", path=path)
                    runs[label].append(result)
                    log(
                        f"resource: {db_kind} {label:16s} run {run + 1}/{s.runs}: "
                        f"{result['rps']:7.1f}/s p50 {result['p50_ms']:.2f} ms "
                        f"errors {result['errors']} generator "
                        f"{result['gen_cpu_pct']:.1f} % CPU, other load "
                        f"{result['other_cpu_pct']:.0f} %"
                    )
        finally:
            for server in servers.values():
                if server.tracebacks():
                    bench.problems.append(
                        f"{server.label} ({db_kind}, resource): tracebacks in "
                        f"{server.logs}"
                    )
                server.stop()
        for label, values in runs.items():
            figures[f"{db_kind}/{label}"] = summary(values)
    bench.results["resource"] = figures
    print_resource(bench, figures)


def print_resource(bench: Bench, figures: dict[str, dict[str, Any]]) -> None:
    s = bench.settings
    rows = []
    for db_kind in s.databases:
        for label, _kind, path in ROUTES:
            f = figures[f"{db_kind}/{label}"]
            rows.append(
                [
                    db_kind,
                    label,
                    path,
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
        f"\n== Resource: GET of a protected route with a valid bearer token, "
        f"gunicorn (2 sync workers, 127.0.0.1), {s.connections} client "
        f"connections, median of {s.runs} run(s) x {s.duration:g} s after "
        f"{s.warmup:g} s warm-up ==\n"
    )
    bench.emit(
        table(
            [
                "db",
                "server",
                "route",
                "calls/s",
                "p50 ms",
                "p99 ms",
                "errors",
                "app CPU ms/c",
                "db CPU ms/c",
                "gen CPU ms/c",
                "runs (calls/s)",
                "gen CPU %",
                "other load %",
            ],
            rows,
        )
    )
    ratio_rows = []
    for db_kind in s.databases:
        floor = figures[f"{db_kind}/floor"]
        recipe = figures[f"{db_kind}/authlib-recipe"]
        for label in ("project", "project /api/me"):
            p = figures[f"{db_kind}/{label}"]
            per_floor = [
                ratio(a, b)
                for a, b in zip(p["runs_rps"], floor["runs_rps"], strict=True)
            ]
            per_recipe = [
                ratio(a, b)
                for a, b in zip(p["runs_rps"], recipe["runs_rps"], strict=True)
            ]
            vs_floor = median(per_floor)
            target = (
                f"{verdict(vs_floor >= TARGET_RESOURCE_VS_FLOOR)} "
                f"(>= {TARGET_RESOURCE_VS_FLOOR})"
                if label == "project"
                else "(not a target)"
            )
            ratio_rows.append(
                [
                    db_kind,
                    label,
                    vs_floor,
                    target,
                    " ".join(f"{x:.2f}" for x in per_floor),
                    median(per_recipe),
                    ratio(p["p50_ms"], floor["p50_ms"]),
                    ratio(floor["server_cpu_ms"], p["server_cpu_ms"]),
                ]
            )
    bench.emit(
        "\nRatios: calls/s project/floor (median of per-round ratios; target "
        f">= {TARGET_RESOURCE_VS_FLOOR} for @require_oauth), project/"
        f"{LABELS['recipe']}, p50 project/floor (lower is better), server CPU "
        "per call floor/project (higher is better for the project):\n"
    )
    bench.emit(
        table(
            [
                "db",
                "project route",
                "proj/floor",
                "target",
                "per round",
                "proj/recipe",
                "p50 p/f",
                "CPU f/p",
            ],
            ratio_rows,
        )
    )
