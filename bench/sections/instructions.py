"""The instructions section (opt-in): CPU work per call, counted, not timed.

On a shared machine every timing moves with the other tenants; the number
of instructions a call executes does not. For each server and route,
``load/inprocess_loop.py`` runs under ``valgrind --tool=callgrind`` twice, with
``N1`` and ``N2`` calls; (total2 - total1) / (N2 - N1) is the instructions
per call, in user space (the kernel's share — sockets, ``fsync`` — is not
counted, nor PostgreSQL's), so it is the Python-side work of one request
without HTTP. It is a measure of work, not time: code that touches more
memory runs fewer instructions per nanosecond. About a minute per line.

Only with ``--only instructions`` (it needs valgrind and is slow).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from typing import Any

from core.harness import Bench
from core.report import log, ratio, table
from core.servers import BENCH_DIR, REPO, Server
from core.settings import LABELS

#: (server kind, route, rotation) in the order of the table.
CASES: list[tuple[str, str, bool]] = [
    ("floor", "token", True),
    ("recipe", "token", True),
    ("project", "token", True),
    ("floor", "token", False),
    ("recipe", "token", False),
    ("project", "token", False),
    ("floor", "resource", True),
    ("recipe", "resource", True),
    ("project", "resource", True),
    ("project", "me", True),
]
ROUTE_LABELS = {"token": "refresh", "resource": "/api/resource", "me": "/api/me"}
_COLLECTED = re.compile(r"Collected : (\d+)")


def _callgrind(server: Server, route: str, n: int) -> int:
    """Instructions of one ``inprocess_loop.py`` run of ``n`` calls."""
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={server.home / f'callgrind-{n}.out'}",
            sys.executable,
            str(BENCH_DIR / "load" / "inprocess_loop.py"),
            server.kind,
            route,
            str(n),
        ],
        cwd=REPO,
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or not found:
        raise RuntimeError(
            f"callgrind {server.label} {route} N={n} failed ({done.returncode}):\n"
            f"{done.stdout[-1500:]}\n{done.stderr[-1500:]}"
        )
    return int(found.group(1))


def instructions(bench: Bench) -> None:
    s = bench.settings
    if shutil.which("valgrind") is None:
        bench.emit("\n== Instructions: skipped (needs valgrind) ==")
        return
    n1, n2 = s.instruction_counts
    figures: dict[str, Any] = {}
    rows = []
    for db_kind in s.databases:
        per: dict[tuple[str, str, bool], float] = {}
        for kind, route, rotate in CASES:
            totals = []
            for n in (n1, n2):
                # A fresh database per run: both runs start from the same state.
                server = bench.server(
                    kind, rotate, db_kind, f"instr_{db_kind}_{kind}_{route}_{n}"
                )
                totals.append(_callgrind(server, route, n))
            per[(kind, route, rotate)] = (totals[1] - totals[0]) / (n2 - n1)
            log(
                f"instructions: {db_kind} {LABELS[kind]} {ROUTE_LABELS[route]} "
                f"rotation {'on' if rotate else 'off'}: "
                f"{per[(kind, route, rotate)]:,.0f} per call"
            )
        for kind, route, rotate in CASES:
            value = per[(kind, route, rotate)]
            floor_route = "token" if route == "token" else "resource"
            floor = per[("floor", floor_route, rotate)]
            figures[f"{db_kind}/{kind}/{route}/{'on' if rotate else 'off'}"] = value
            rows.append(
                [
                    db_kind,
                    LABELS[kind],
                    ROUTE_LABELS[route],
                    ("on" if rotate else "off") if route == "token" else "",
                    f"{value:,.0f}",
                    ratio(floor, value),
                ]
            )
    bench.results["instructions"] = figures
    bench.emit(
        f"\n== Instructions per call (callgrind; in-process, Flask test client; "
        f"the difference of {n2} and {n1} calls; user space only: no kernel, no "
        f"PostgreSQL server) ==\n"
    )
    bench.emit(
        table(
            ["db", "server", "route", "rotation", "instructions", "floor/this"],
            rows,
        )
    )
    bench.emit(
        "\nfloor/this: the floor's instructions over this server's on the same "
        "route (1.00 = as little work as the floor). Work, not time."
    )
