"""The profile section: SQL per refresh of every server, cProfile of the project."""

from __future__ import annotations

from typing import Any

from core.harness import Bench
from core.report import log, table
from core.servers import BENCH_DIR, run_python
from core.settings import KINDS


def profile(bench: Bench) -> None:
    s = bench.settings
    counts = []
    profiles: dict[str, Any] = {}
    for db_kind in s.databases:
        for rotate in (True, False):
            for kind in KINDS:
                server = bench.server(
                    kind,
                    rotate,
                    db_kind,
                    f"profile_{db_kind}_{kind}_{'on' if rotate else 'off'}",
                )
                deep = kind == "project"
                args = [
                    str(BENCH_DIR / "tools" / "profile_endpoint.py"),
                    kind,
                    "--requests",
                    str(s.profile_requests),
                ]
                if deep:
                    args.append("--profile")
                result = run_python(
                    args, server.env(), timeout=600, what=f"profile {server.label}"
                )
                counts.append(
                    [
                        db_kind,
                        server.label,
                        "on" if rotate else "off",
                        result["statements"],
                        ", ".join(f"{k} {v:g}" for k, v in result["by_verb"].items()),
                        result["commits"],
                        result["checkouts"],
                        result["ms_per_refresh"],
                    ]
                )
                key = f"{db_kind}/{kind}/{'on' if rotate else 'off'}"
                profiles[key] = result
                log(
                    f"profile: {key}: {result['statements']:g} statements, "
                    f"{result['ms_per_refresh']:.2f} ms/refresh in-process"
                )
    bench.results["profile"] = profiles
    bench.emit(
        "\n== SQL per refresh (before_cursor_execute listener; in-process, "
        "Flask test client, no HTTP) ==\n"
    )
    bench.emit(
        table(
            [
                "db",
                "server",
                "rotation",
                "statements",
                "by verb",
                "commits",
                "pool checkouts",
                "ms/refresh",
            ],
            counts,
        )
    )
    for db_kind in s.databases:
        for rotate in ("on", "off"):
            result = profiles[f"{db_kind}/project/{rotate}"]
            bench.emit(
                f"\nproject, rotation {rotate}, {db_kind}: the statements of one refresh:"
            )
            for statement in result["one_refresh"]:
                bench.emit(f"  {statement}")
    for db_kind in s.databases:
        for rotate in ("on", "off"):
            result = profiles[f"{db_kind}/project/{rotate}"]
            bench.emit(
                f"\n== Profile: project token endpoint, rotation {rotate}, {db_kind}, "
                f"{result['profile_requests']} refreshes in-process under cProfile "
                f"(cumulative; nested parts are inside their parents) ==\n"
            )
            bench.emit(
                table(
                    ["part of the request", "calls/refresh", "ms/refresh", "share"],
                    [
                        [
                            p["part"],
                            "" if p["share"] is None else f"{p['calls_per_refresh']:g}",
                            "" if p["share"] is None else f"{p['ms_per_refresh']:.3f}",
                            "" if p["share"] is None else f"{p['share'] * 100:.1f}%",
                        ]
                        for p in result["parts"]
                    ],
                )
            )
            if rotate == "on":
                bench.emit("\nTop functions by cumulative time:\n")
                bench.emit(result["top_cumulative"].rstrip())
                bench.emit("\nTop functions by own time:\n")
                bench.emit(result["top_own"].rstrip())
