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
from core.servers import Server
from core.settings import LABELS, TARGET_RESOURCE_VS_FLOOR

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
            runs = bench.interleave(
                [
                    (label, servers[kind], "resource", path)
                    for label, kind, path in ROUTES
                ],
                f"resource: {db_kind}",
            )
        finally:
            bench.stop(servers.values(), f"{db_kind}, resource")
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
            rows.append([db_kind, label, path, *load_cells(f)])
    bench.emit(
        f"\n== Resource: GET of a protected route with a valid bearer token, "
        f"gunicorn (2 sync workers, 127.0.0.1), {s.connections} client "
        f"connections, median of {s.runs} run(s) x {s.duration:g} s after "
        f"{s.warmup:g} s warm-up ==\n"
    )
    bench.emit(
        table(
            ["db", "server", "route", *load_headers("calls/s", "c")],
            rows,
        )
    )
    ratio_rows = []
    for db_kind in s.databases:
        floor = figures[f"{db_kind}/floor"]
        recipe = figures[f"{db_kind}/authlib-recipe"]
        for label in ("project", "project /api/me"):
            p = figures[f"{db_kind}/{label}"]
            per_floor = per_round(p, floor)
            per_recipe = per_round(p, recipe)
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
