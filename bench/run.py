"""flask-refreshgrant benchmark: every figure of the token endpoint in one run.

``python bench/run.py`` (or ``bench/run``); ``--quick`` for a ~7-minute smoke
run; ``--help`` for the knobs. See ``bench/README.md``.

Sections (``--only``/``--skip`` pick them):

* ``matrix``   refreshes/s, p50, p99 and errors of the bare floor, the spec
               floor, the Authlib recipe and the project, rotation on and
               off, on SQLite and PostgreSQL, under gunicorn (2 sync workers,
               127.0.0.1), with the project's ratios to each;
* ``resource`` ``@require_oauth`` calls per second (GET of a protected route
               with a bearer token) against a floor that does one indexed
               SELECT by digest, on SQLite and PostgreSQL;
* ``formats``  refreshes returning JWT against opaque access tokens, of
               ``openid`` grants against plain ones; a resource call verified
               by signature (JWKS) against ``@require_oauth``'s lookup, and
               the example MCP server's tool call;
* ``scaling``  the same refresh with 10 thousand and 1 million token rows
               already stored (written in bulk, not over HTTP);
* ``memory``   a worker's RSS after 100 thousand refreshes against after 1
               thousand (the project);
* ``scaleout`` two example-app servers on one PostgreSQL: throughput against
               one server, and a race of 20 simultaneous requests with the
               same token spread over both;
* ``profile``  cProfile of the project's token endpoint in-process, and SQL
               statements per refresh of every server;
* ``metrics``  the project with Prometheus metrics off and on (multiprocess
               mode) under gunicorn, alternating; and in-process, with the
               added work timed alone.
* ``instructions`` (only with ``--only``) instructions per call of every
               server, counted by callgrind: work, immune to the machine's
               other load.

Load comes from wrk (``load/wrkgen.py`` + ``load/wrk_chain.lua``), or from the
Python ``load/loadgen.py`` when wrk is missing; every run reports the generator's
share of the machine's CPU and flags it above 15 %.

Everything listens on 127.0.0.1 only; every server and the PostgreSQL this
script starts are stopped when it ends, however it ends.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from core.common import engine_options  # noqa: E402
from core.harness import Bench  # noqa: E402
from core.report import log  # noqa: E402
from core.servers import RUNNING, Postgres  # noqa: E402
from core.settings import (  # noqa: E402
    GENERATOR_CPU_FLAG_PCT,
    KINDS,
    OPT_IN_SECTIONS,
    SECTIONS,
    Settings,
)
from load import wrkgen  # noqa: E402
from sections import (  # noqa: E402
    formats,
    instructions,
    matrix,
    memory,
    metrics,
    profile,
    resource,
    scaleout,
    scaling,
)

#: What runs each section (in the order of ``SECTIONS``).
SECTION_FUNCTIONS: dict[str, Callable[[Bench], None]] = {
    "matrix": matrix.matrix,
    "resource": resource.resource,
    "formats": formats.formats,
    "scaling": scaling.scaling,
    "memory": memory.memory,
    "scaleout": scaleout.scaleout,
    "profile": profile.profile,
    "metrics": metrics.metrics,
    "instructions": instructions.instructions,
}


def parse_args(argv: Sequence[str] | None) -> Settings:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Benchmark flask-refreshgrant's token endpoint against a floor "
        "and the Authlib recipe (see bench/README.md).",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run, about 7 minutes: 1 run of 2 s, small scaling/memory counts",
    )
    parser.add_argument("--runs", type=int, help="runs per figure, median taken (3)")
    parser.add_argument("--duration", type=float, help="seconds measured per run (10)")
    parser.add_argument(
        "--warmup", type=float, help="seconds before measuring each run (2)"
    )
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument(
        "--db",
        default="sqlite,postgresql",
        help="comma-separated: sqlite, postgresql (default both)",
    )
    parser.add_argument("--only", help=f"comma-separated sections of {SECTIONS}")
    parser.add_argument("--skip", default="", help="comma-separated sections to skip")
    parser.add_argument(
        "--scale-sizes", help="token rows stored before measuring (10000,1000000)"
    )
    parser.add_argument(
        "--scale-servers",
        help="servers of the scaling section (project,floor,recipe; quick: project)",
    )
    parser.add_argument(
        "--scale-duration", type=float, help="seconds per scaling run (5)"
    )
    parser.add_argument(
        "--memory-counts", help="refreshes before the two RSS readings (1000,100000)"
    )
    parser.add_argument("--race-trials", type=int, help="race trials (10)")
    parser.add_argument("--race-size", type=int, default=20)
    parser.add_argument(
        "--profile-requests", type=int, help="in-process refreshes profiled (2000)"
    )
    parser.add_argument(
        "--instruction-counts",
        default="50,250",
        help="calls of the two callgrind runs per line (instructions section)",
    )
    parser.add_argument("--pg-port", type=int, default=54471)
    parser.add_argument(
        "--no-pg-pre-ping",
        action="store_true",
        help="PostgreSQL pools without pool_pre_ping (the example app's default is on)",
    )
    parser.add_argument(
        "--loadgen",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator: wrk (auto: when installed) or the Python loadgen.py",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args(argv)

    quick = bool(args.quick)

    def pick(value: Any, full: Any, smoke: Any) -> Any:
        return value if value is not None else (smoke if quick else full)

    def ints(text: str) -> list[int]:
        return [int(float(x)) for x in text.split(",") if x.strip()]

    duration = float(pick(args.duration, 10.0, 2.0))
    sections = (
        [x for x in SECTIONS if x not in OPT_IN_SECTIONS]
        if not args.only
        else args.only.split(",")
    )
    skip = {s for s in args.skip.split(",") if s}
    for name in [*sections, *skip]:
        if name not in SECTIONS:
            parser.error(f"unknown section {name!r}; known: {', '.join(SECTIONS)}")
    databases = [d.strip() for d in args.db.split(",") if d.strip()]
    for name in databases:
        if name not in ("sqlite", "postgresql"):
            parser.error(f"unknown database {name!r}")
    memory_counts = ints(pick(args.memory_counts, "1000,100000", "200,3000"))
    wrk = wrkgen.find_wrk() if args.loadgen != "python" else None
    if args.loadgen == "wrk" and wrk is None:
        parser.error("--loadgen wrk: wrk is not installed (apt-get install wrk)")
    scale_kinds = pick(args.scale_servers, "project,floor,recipe", "project").split(",")
    for kind in scale_kinds:
        if kind not in KINDS or kind == "spec":
            known = ", ".join(k for k in KINDS if k != "spec")
            parser.error(f"unknown scaling server {kind!r}; known: {known}")
    return Settings(
        runs=int(pick(args.runs, 3, 1)),
        duration=duration,
        warmup=float(pick(args.warmup, 2.0, 0.5)),
        connections=args.connections,
        databases=databases,
        sections=[s for s in sections if s not in skip],
        scale_sizes=ints(pick(args.scale_sizes, "10000,1000000", "1000,20000")),
        scale_kinds=scale_kinds,
        scale_duration=float(pick(args.scale_duration, 5.0, duration)),
        memory_counts=(memory_counts[0], memory_counts[-1]),
        race_trials=int(pick(args.race_trials, 10, 3)),
        race_size=args.race_size,
        profile_requests=int(pick(args.profile_requests, 2000, 200)),
        pg_port=args.pg_port,
        pg_pre_ping=not args.no_pg_pre_ping,
        quick=quick,
        keep=args.keep,
        json_path=args.json,
        wrk=wrk,
        instruction_counts=(
            ints(args.instruction_counts)[0],
            ints(args.instruction_counts)[-1],
        ),
    )


# -- everything --------------------------------------------------------------


def run(bench: Bench) -> None:
    """Every chosen section, then the problems, the wall time and the JSON."""
    s = bench.settings
    started = time.perf_counter()
    bench.emit(
        f"flask-refreshgrant benchmark{' (--quick smoke run)' if s.quick else ''}: "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"databases {', '.join(s.databases)}; sections {', '.join(s.sections)}"
    )
    if s.wrk:
        generator = (
            f"wrk ({s.wrk}, one thread per connection, bench/load/wrk_chain.lua); "
            "races: the Python loadgen.py"
        )
    else:
        generator = (
            "the Python loadgen.py (FALLBACK: wrk not found or --loadgen python; "
            "its CPU competes with the servers and pulls ratios towards 1)"
        )
    bench.emit(
        f"Load generator: {generator}; runs where it takes more than "
        f"{GENERATOR_CPU_FLAG_PCT:g} % of the machine's CPU are flagged."
    )
    bench.emit(
        "SQLite: file DB, WAL + busy_timeout 30 s for every server; PostgreSQL: "
        f"{json.dumps(engine_options('postgresql://', s.pg_pre_ping))} for every server."
    )
    if "postgresql" in s.databases:
        bench.postgres = Postgres(bench.workdir / "pg", s.pg_port)
        log(f"starting PostgreSQL on 127.0.0.1:{s.pg_port}")
        bench.postgres.start()
    for name in SECTIONS:
        if name in s.sections:
            section_started = time.perf_counter()
            log(f"section {name}")
            try:
                SECTION_FUNCTIONS[name](bench)
            except Exception as error:
                bench.problems.append(f"section {name} failed: {error}")
                log(f"section {name} FAILED: {error}")
            bench.results.setdefault("seconds", {})[name] = round(
                time.perf_counter() - section_started, 1
            )
    total = time.perf_counter() - started
    if bench.flagged:
        bench.emit(
            f"\n== Flagged: load generator above {GENERATOR_CPU_FLAG_PCT:g} % of "
            "the CPU (its figures are suspect) =="
        )
        for flag in bench.flagged:
            bench.emit(f"* {flag}")
    if bench.problems:
        bench.emit("\n== Problems ==")
        for problem in bench.problems:
            bench.emit(f"* {problem}")
    timings = ", ".join(
        f"{k} {v:.0f} s" for k, v in bench.results.get("seconds", {}).items()
    )
    bench.emit(f"\nWall time {total / 60:.1f} min ({timings}).")
    if s.json_path:
        bench.results["settings"] = {
            k: (str(v) if isinstance(v, Path) else v) for k, v in vars(s).items()
        }
        bench.results["report"] = "\n".join(bench.report)
        s.json_path.write_text(json.dumps(bench.results, indent=2, default=str))


@contextlib.contextmanager
def cleanup(bench: Bench) -> Iterator[None]:
    """Stop every server and the PostgreSQL, on success, error or signal."""

    def on_signal(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = {
        sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGHUP)
    }
    try:
        yield
    finally:
        for server in list(RUNNING):
            server.stop()
        if bench.postgres is not None:
            log("stopping PostgreSQL")
            bench.postgres.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if bench.settings.keep:
            log(f"kept {bench.workdir}")
        else:
            shutil.rmtree(bench.workdir, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> None:
    settings = parse_args(argv)
    # PostgreSQL runs as the postgres user when we are root: it must reach DIR.
    workdir = Path(tempfile.mkdtemp(prefix="frg-bench-"))
    workdir.chmod(0o755)
    bench = Bench(settings, workdir)
    with cleanup(bench):
        run(bench)


if __name__ == "__main__":
    main()
