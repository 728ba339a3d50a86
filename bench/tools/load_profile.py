"""Where a refresh's time goes under load: CPU per refresh and py-spy's parts.

``python bench/tools/load_profile.py [--db postgresql] [--servers project,spec]
[--rotation off] [--rounds 2] [--duration 12]`` starts the servers as the
matrix section does (gunicorn, 2 sync workers, the bench's private
PostgreSQL), drives each with wrk for ``--rounds`` rounds, back to back, and
prints per server and round: refreshes/s, the workers' **user and system**
CPU per refresh (``/proc``), PostgreSQL's backends' CPU per refresh, the
load generator's share of the machine.

In the last round, when ``py-spy`` is installed (``pip install py-spy``; not
a dependency of the project), it samples every worker (``--idle``: waiting
counts too) and the samples are put into parts, first match wins:

* pool checkout (with ``pool_pre_ping``'s round trip);
* each statement of the refresh: the token joined with its client, the user,
  the write (the conditional ``INSERT`` without rotation, the rotation with
  it), its ``COMMIT`` — the project's by its store's methods, the spec
  floor's by the lines of ``apps/spec_floor_app.py`` that run them;
* the rest of the view (Authlib, the grant, building the response), Flask
  around the view (hooks, contexts, teardown), gunicorn (HTTP).

Figures are ms of a worker's wall time per refresh (samples / rate /
refreshes; py-spy samples the whole load, warm-up included, as the count
of refreshes does): CPU and waiting for the database or for a core alike.
Errors in a load and tracebacks in a server's log are printed at the end. A
profiler in the workers slows them: compare servers sampled in the same
run, not with the matrix.
"""

from __future__ import annotations

import argparse
import ast
import collections
import math
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH_DIR))

import run as bench_run  # noqa: E402
from core.harness import Bench  # noqa: E402
from core.report import log, table  # noqa: E402
from core.servers import Postgres, Server  # noqa: E402
from core.settings import KINDS, LABELS  # noqa: E402

CHECKOUT = "pool checkout + pre-ping"
SELECT_TOKEN = "SELECT token joined with client"
SELECT_USER = "SELECT user"
WRITE = "write statement(s)"
COMMIT = "COMMIT"
VIEW = "rest of the view"
FLASK = "Flask around the view"
GUNICORN = "gunicorn (HTTP)"
PARTS = (CHECKOUT, SELECT_TOKEN, SELECT_USER, WRITE, COMMIT, VIEW, FLASK, GUNICORN)

#: The spec floor's statements, by the ``sql.<name>`` they run.
_SPEC_STATEMENTS = {
    "token_and_client": SELECT_TOKEN,
    "client": SELECT_TOKEN,
    "user": SELECT_USER,
    "retire": WRITE,
    "insert_refresh": WRITE,
    "insert_access": WRITE,
    "access_if_live": WRITE,
    "access_if_live_returning": WRITE,
}

Rule = Callable[[str], str | None]


def _spec_floor_lines() -> dict[int, str]:
    """Line of ``apps/spec_floor_app.py`` → the part of the statement it
    runs: every line of the Python statement that holds the call, or of the
    call alone when it is in an ``if``'s condition."""
    source = (BENCH_DIR / "apps" / "spec_floor_app.py").read_text()
    lines: dict[int, str] = {}
    for statement in ast.walk(ast.parse(source)):
        if isinstance(statement, (ast.If, ast.While)):
            spans, nodes = None, list(ast.walk(statement.test))
        elif isinstance(statement, ast.stmt) and not hasattr(statement, "body"):
            spans, nodes = statement, list(ast.walk(statement))
        else:
            continue
        for node in nodes:
            if not (
                isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            ):
                continue
            first = node.args[0] if node.args else None
            if node.func.attr == "commit":
                part = COMMIT
            elif (
                node.func.attr == "execute"
                and isinstance(first, ast.Attribute)
                and first.attr in _SPEC_STATEMENTS
            ):
                part = _SPEC_STATEMENTS[first.attr]
            else:
                continue
            span = spans or node
            for line in range(span.lineno, (span.end_lineno or span.lineno) + 1):
                lines[line] = part
    return lines


def _project_part(stack: str) -> str | None:
    if "TokenStore.find_refresh_token_and_client" in stack:
        return SELECT_TOKEN
    if "RefreshTokenGrant.authenticate_user" in stack:
        return SELECT_USER
    if "TokenStore.issue_access_token" in stack or "TokenStore.rotate" in stack:
        return COMMIT if "SessionTransaction.commit" in stack else WRITE
    return None


def _spec_part(lines: dict[int, str]) -> Rule:
    marker = "token (apps/spec_floor_app.py:"

    def part(stack: str) -> str | None:
        at = stack.rfind(marker)
        if at < 0:
            return None
        line = int(stack[at + len(marker) :].split(")", 1)[0])
        return lines.get(line)

    return part


def classify(stack: str, statement_part: Rule) -> str:
    """The part one sample (``;``-separated frames, outermost first) is in."""
    if "_ConnectionFairy._checkout" in stack:
        return CHECKOUT
    part = statement_part(stack)
    if part is not None:
        return part
    if "Flask.dispatch_request" in stack:
        return VIEW
    if "Flask.wsgi_app" in stack:
        return FLASK
    return GUNICORN


def parts(files: Sequence[Path], statement_part: Rule) -> collections.Counter[str]:
    """Samples per part of py-spy's raw files (``stack count`` lines)."""
    counts: collections.Counter[str] = collections.Counter()
    for path in files:
        for line in path.read_text().splitlines():
            stack, _, number = line.rpartition(" ")
            if stack:
                counts[classify(stack, statement_part)] += int(number)
    return counts


def find_py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--servers", default="project,spec")
    parser.add_argument("--rotation", choices=("off", "on", "both"), default="off")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=float, default=12.0)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples/s")
    parser.add_argument("--no-py-spy", action="store_true")
    parser.add_argument("--pg-port", type=int, default=54473)
    parser.add_argument("--keep", type=Path, help="copy py-spy's raw files here")
    args = parser.parse_args(argv)
    kinds = args.servers.split(",")
    for kind in kinds:
        if kind not in KINDS:
            parser.error(f"unknown server {kind!r}; known: {', '.join(KINDS)}")
    rotations = {"off": [False], "on": [True], "both": [False, True]}[args.rotation]
    py_spy = None if args.no_py_spy else find_py_spy()
    if py_spy is None:
        log("py-spy not found (or --no-py-spy): CPU per refresh only")
    settings = bench_run.parse_args(
        [
            "--db",
            args.db,
            "--duration",
            str(args.duration),
            "--runs",
            str(args.rounds),
            "--pg-port",
            str(args.pg_port),
        ]
    )
    workdir = Path(tempfile.mkdtemp(prefix="frg-load-profile-"))
    workdir.chmod(0o755)
    bench = Bench(settings, workdir)
    spec_rule = _spec_part(_spec_floor_lines())
    rules: dict[str, Rule] = {"project": _project_part, "spec": spec_rule}
    rows: list[list[object]] = []
    sampled: dict[str, tuple[list[Path], int, str]] = {}
    with bench_run.cleanup(bench):
        if args.db == "postgresql":
            bench.postgres = Postgres(workdir / "pg", settings.pg_port)
            bench.postgres.start()
        servers: dict[str, Server] = {}
        for kind in kinds:
            for rotate in rotations:
                label = f"{LABELS[kind]} rotation {'on' if rotate else 'off'}"
                servers[label] = bench.server(
                    kind, rotate, args.db, f"{kind}_{'on' if rotate else 'off'}"
                )
        bench.start_all(list(servers.values()))
        # py-spy samples the whole load, warm-up included, as ``sent``
        # (the divisor) counts it.
        sampled_seconds = str(math.ceil(settings.warmup + settings.duration))
        for round_ in range(args.rounds):
            last = round_ == args.rounds - 1
            for label, server in servers.items():
                spies: list[tuple[subprocess.Popen[bytes], Path]] = []
                if py_spy is not None and last:
                    for pid in server.workers():
                        out = workdir / f"spy-{server.kind}-{server.rotate}-{pid}.txt"
                        command = [py_spy, "record", "--idle", "-f", "raw"]
                        command += ["-r", str(args.rate), "-o", str(out)]
                        command += ["-p", str(pid), "-d", sampled_seconds]
                        spies.append(
                            (
                                subprocess.Popen(
                                    command,
                                    stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL,
                                ),
                                out,
                            )
                        )
                result = bench.load([server])
                for spy, _ in spies:
                    spy.wait()
                rows.append(
                    [
                        label,
                        round_ + 1,
                        result["rps"],
                        result["server_user_ms"],
                        result["server_sys_ms"],
                        result["db_cpu_ms"],
                        result["gen_cpu_pct"],
                        result["other_cpu_pct"],
                    ]
                )
                if spies:
                    files = [out for _, out in spies if out.exists()]
                    sampled[label] = (files, result["sent"], server.kind)
                    if args.keep:
                        args.keep.mkdir(parents=True, exist_ok=True)
                        for path in files:
                            shutil.copy(path, args.keep / path.name)
        bench.stop(servers.values(), args.db)
        print(
            f"\n== {args.db}: wrk, {settings.connections} connections, "
            f"{args.duration:g} s after {settings.warmup:g} s warm-up; workers' "
            "CPU per refresh from /proc =="
        )
        print(
            table(
                [
                    "server",
                    "round",
                    "refreshes/s",
                    "user ms/r",
                    "sys ms/r",
                    "db CPU ms/r",
                    "gen CPU %",
                    "other %",
                ],
                rows,
            )
        )
        if sampled:
            _print_parts(sampled, rules, args.rate)
        for problem in bench.problems:  # errors in a load, tracebacks
            print(f"PROBLEM: {problem}")


def _print_parts(
    sampled: dict[str, tuple[list[Path], int, str]],
    rules: dict[str, Rule],
    rate: int,
) -> None:
    labels = list(sampled)
    per_refresh: dict[str, dict[str, float]] = {}
    for label, (files, sent, kind) in sampled.items():
        counts = parts(files, rules.get(kind, lambda stack: None))
        scale = 1000 / rate / max(1, sent)
        per_refresh[label] = {part: counts[part] * scale for part in PARTS}
    body = [[part, *(per_refresh[label][part] for label in labels)] for part in PARTS]
    body.append(["total", *(sum(per_refresh[label].values()) for label in labels)])
    print(
        f"\n== py-spy (--idle, {rate} Hz), last round: ms of a worker's wall time "
        "per refresh, by part (first match wins) =="
    )
    print(table(["part", *labels], body))
    print(
        "(Statements of servers other than the project and the spec floor "
        "count in 'rest of the view'.)"
    )


if __name__ == "__main__":
    main()
