"""flask-refreshgrant benchmark: every figure of the token endpoint in one run.

``python bench/run.py`` (or ``bench/run``); ``--quick`` for a ~2-minute smoke
run; ``--help`` for the knobs. See ``bench/README.md``.

Sections (``--only``/``--skip`` pick them):

* ``matrix``   refreshes/s, p50, p99 and errors of the floor, the Authlib
               recipe and the project, rotation on and off, on SQLite and
               PostgreSQL, under gunicorn (2 sync workers, 127.0.0.1), with the
               ratios project/floor and project/authlib-recipe;
* ``scaling``  the same refresh with 10 thousand and 1 million token rows
               already stored (written in bulk, not over HTTP);
* ``memory``   a worker's RSS after 100 thousand refreshes against after 1
               thousand (the project);
* ``scaleout`` two example-app servers on one PostgreSQL: throughput against
               one server, and a race of 20 simultaneous requests with the
               same token spread over both;
* ``profile``  cProfile of the project's token endpoint in-process, and SQL
               statements per refresh of every server.

Everything listens on 127.0.0.1 only; every server and the PostgreSQL this
script starts are stopped when it ends, however it ends.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

from common import TOKEN_PATH, basic_auth, engine_options  # noqa: E402

PYTHON = sys.executable
KINDS = ("floor", "recipe", "project")
LABELS = {"floor": "floor", "recipe": "authlib-recipe", "project": "project"}
APPS = {
    "project": "example_app:create_app()",
    "floor": "floor_app:create_app()",
    "recipe": "authlib_recipe_app:create_app()",
}
#: The same for every server.
GUNICORN_WORKERS = ("--workers", "2", "--worker-class", "sync")
SECTIONS = ("matrix", "scaling", "memory", "scaleout", "profile")
STARTUP_TIMEOUT = 60.0

# Targets from the issue (ratios within one run).
TARGET_VS_FLOOR = 0.75
TARGET_VS_RECIPE = 1.3
TARGET_SCALING = 1.2
TARGET_MEMORY = 1.1


def log(message: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def median(values: Sequence[float]) -> float:
    clean = [v for v in values if not math.isnan(v)]
    return statistics.median(clean) if clean else math.nan


def ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(a) and not math.isnan(b) else math.nan


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


_NUMERIC = re.compile(r"-?[\d.,]*%?")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            if math.isnan(value):
                return "-"
            return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"
        return str(value)

    cells = [[cell(v) for v in row] for row in rows]
    numeric = [
        bool(cells) and all(_NUMERIC.fullmatch(row[i]) for row in cells)
        for i in range(len(headers))
    ]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
        for i, h in enumerate(headers)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append(
            "  ".join(
                c.rjust(w) if numeric[i] else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(lines)


def last_json_line(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            result: dict[str, Any] = json.loads(line)
            return result
    raise RuntimeError(f"no JSON result in output:\n{text[-2000:]}")


def run_python(
    args: Sequence[str], env: dict[str, str], timeout: float, what: str
) -> dict[str, Any]:
    """Run ``python ARGS`` from the repository root; its last JSON line."""
    try:
        done = subprocess.run(
            [PYTHON, *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise RuntimeError(f"{what}: timed out after {timeout:.0f} s") from error
    if done.returncode != 0:
        raise RuntimeError(
            f"{what} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return last_json_line(done.stdout)


def proc_children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            # The command name may contain spaces: fields after the last ')'.
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                children.append(int(entry.name))
    return sorted(children)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU jiffies of the whole machine, from ``/proc/stat``."""
    fields = [
        int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    ]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])
    return total - idle, total


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# -- configuration ---------------------------------------------------------------


@dataclass
class Settings:
    runs: int
    duration: float
    warmup: float
    connections: int
    databases: list[str]
    sections: list[str]
    scale_sizes: list[int]
    scale_kinds: list[str]
    scale_duration: float
    memory_counts: tuple[int, int]
    race_trials: int
    race_size: int
    profile_requests: int
    pg_port: int
    pg_pre_ping: bool
    quick: bool
    keep: bool
    json_path: Path | None


def parse_args(argv: Sequence[str] | None) -> Settings:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Benchmark flask-refreshgrant's token endpoint against a floor "
        "and the Authlib recipe (see bench/README.md).",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run, about 2 minutes: 1 run of 2 s, small scaling/memory counts",
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
    parser.add_argument("--pg-port", type=int, default=54471)
    parser.add_argument(
        "--no-pg-pre-ping",
        action="store_true",
        help="PostgreSQL pools without pool_pre_ping (the example app's default is on)",
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
    sections = list(SECTIONS) if not args.only else args.only.split(",")
    skip = {s for s in args.skip.split(",") if s}
    for name in [*sections, *skip]:
        if name not in SECTIONS:
            parser.error(f"unknown section {name!r}; known: {', '.join(SECTIONS)}")
    databases = [d.strip() for d in args.db.split(",") if d.strip()]
    for name in databases:
        if name not in ("sqlite", "postgresql"):
            parser.error(f"unknown database {name!r}")
    memory = ints(pick(args.memory_counts, "1000,100000", "200,3000"))
    scale_kinds = pick(args.scale_servers, "project,floor,recipe", "project").split(",")
    for kind in scale_kinds:
        if kind not in KINDS:
            parser.error(f"unknown server {kind!r}; known: {', '.join(KINDS)}")
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
        memory_counts=(memory[0], memory[-1]),
        race_trials=int(pick(args.race_trials, 10, 3)),
        race_size=args.race_size,
        profile_requests=int(pick(args.profile_requests, 2000, 200)),
        pg_port=args.pg_port,
        pg_pre_ping=not args.no_pg_pre_ping,
        quick=quick,
        keep=args.keep,
        json_path=args.json,
    )


# -- databases -----------------------------------------------------------------


class Postgres:
    """A private PostgreSQL from ``scripts/postgres``, one database per server."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.url = ""

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [
                str(REPO / "scripts" / "postgres"),
                "start",
                str(self.directory),
                str(self.port),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"scripts/postgres start failed:\n{done.stderr}")
        self.url = done.stdout.strip().splitlines()[-1]

    def stop(self) -> None:
        subprocess.run(
            [str(REPO / "scripts" / "postgres"), "stop", str(self.directory)],
            capture_output=True,
            timeout=120,
            check=False,
        )

    def backends(self) -> list[int]:
        """The server's child processes (connection backends and helpers)."""
        try:
            pid = int(
                (self.directory / "data" / "postmaster.pid").read_text().split()[0]
            )
        except (OSError, ValueError, IndexError):
            return []
        return proc_children(pid)

    def new_database(self, name: str) -> str:
        import psycopg
        from sqlalchemy.engine import make_url

        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')  # type: ignore[arg-type]
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return (
            make_url(self.url).set(database=name).render_as_string(hide_password=False)
        )


# -- servers ---------------------------------------------------------------------


@dataclass
class Chains:
    """Each load-generator connection's refresh tokens (current first, then
    spares), shared by the servers of one database and client."""

    lists: list[list[str]] = field(default_factory=list)


@dataclass
class Server:
    kind: str
    rotate: bool
    db_kind: str
    db_url: str
    home: Path
    instance: Path
    client_secret: str
    pg_pre_ping: bool
    chains: Chains = field(default_factory=Chains)
    client_id: str = ""
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def label(self) -> str:
        return LABELS[self.kind]

    @property
    def authorization(self) -> str:
        return basic_auth(self.client_id, self.client_secret)

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("FLASK_", "EXAMPLE_", "GUNICORN_", "BENCH_"))
            and k not in ("DATABASE_URL", "AUTHLIB_INSECURE_TRANSPORT")
        }
        options = json.dumps(engine_options(self.db_url, self.pg_pre_ping))
        env.update(DATABASE_URL=self.db_url, PYTHONUNBUFFERED="1")
        if self.kind == "project":
            env.update(
                EXAMPLE_INSTANCE_PATH=str(self.instance),
                FLASK_EXAMPLE_QUIET="true",
                FLASK_SQLALCHEMY_ENGINE_OPTIONS=options,
                FLASK_OAUTH2_RENEW_REFRESH_TOKEN_FOR_REFRESH_GRANT=json.dumps(
                    self.rotate
                ),
            )
        else:
            env.update(
                BENCH_ENGINE_OPTIONS=options,
                BENCH_ROTATE=json.dumps(self.rotate),
                BENCH_CLIENT_ID=f"{self.kind}-client",
                BENCH_CLIENT_SECRET=self.client_secret,
            )
        return env

    def seed(self, chains: int = 0, background: int = 0) -> dict[str, Any]:
        result = run_python(
            [
                str(BENCH_DIR / "seed.py"),
                self.kind,
                "--chains",
                str(chains),
                "--background",
                str(background),
            ],
            self.env(),
            timeout=180 + background * 0.002,
            what=f"seeding {self.label}",
        )
        self.client_id = result["client_id"]
        self.client_secret = result["client_secret"]
        return result

    def add_chains(self, connections: int, spares: int = 1) -> None:
        """Give every connection without a token ``1 + spares`` fresh grants."""
        missing = [
            i
            for i in range(connections)
            if i >= len(self.chains.lists) or not self.chains.lists[i]
        ]
        if not missing:
            return
        tokens = self.seed(chains=len(missing) * (1 + spares))["tokens"]
        while len(self.chains.lists) < connections:
            self.chains.lists.append([])
        for n, i in enumerate(missing):
            self.chains.lists[i] = tokens[n * (1 + spares) : (n + 1) * (1 + spares)]

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        for _attempt in range(3):
            self.port = free_port()
            out = self.home / f"gunicorn-{self.port}.out"
            err = self.home / f"gunicorn-{self.port}.err"
            self.logs = [out, err]
            command = [
                PYTHON,
                "-m",
                "gunicorn",
                APPS[self.kind],
                "--bind",
                f"127.0.0.1:{self.port}",
                *GUNICORN_WORKERS,
                "--timeout",
                "120",
                "--graceful-timeout",
                "5",
                # gunicorn >= 25 listens on ~/.gunicorn/gunicorn.ctl by default,
                # shared by every server on the machine: off.
                "--no-control-socket",
            ]
            if self.kind != "project":
                command += ["--pythonpath", str(BENCH_DIR)]
            with out.open("wb") as stdout, err.open("wb") as stderr:
                self.process = subprocess.Popen(
                    command,
                    cwd=REPO,
                    env=self.env(),
                    stdin=subprocess.DEVNULL,
                    stdout=stdout,
                    stderr=stderr,
                    start_new_session=True,
                )
            RUNNING.append(self)
            try:
                self.wait_ready()
                return
            except RuntimeError:
                self.stop()
                if "Address already in use" not in err.read_text(errors="replace"):
                    raise
        raise RuntimeError(f"{self.label}: no free port after 3 attempts")

    def wait_ready(self) -> None:
        """Until the token endpoint answers and both workers are forked."""
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"gunicorn ({self.label}) exited with {self.process.returncode}:\n"
                    + self.logs[1].read_text(errors="replace")[-3000:]
                )
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", TOKEN_PATH)
                conn.getresponse().read()
                conn.close()
            except OSError:
                time.sleep(0.1)
                continue
            if len(proc_children(self.process.pid)) >= 2:
                return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn ({self.label}) not ready in {STARTUP_TIMEOUT} s")

    def workers(self) -> list[int]:
        return [] if self.process is None else proc_children(self.process.pid)

    def stop(self) -> None:
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        self.process = None
        with contextlib.suppress(ValueError):
            RUNNING.remove(self)

    def tracebacks(self) -> int:
        return sum(
            p.read_text(errors="replace").count("Traceback")
            for p in self.logs
            if p.exists()
        )


#: Every server started and not yet stopped, for the cleanup on exit.
RUNNING: list[Server] = []


# -- the load generator ------------------------------------------------------------


class Bench:
    def __init__(self, settings: Settings, workdir: Path) -> None:
        self.settings = settings
        self.workdir = workdir
        self.postgres: Postgres | None = None
        self.secret = secrets.token_urlsafe(32)
        self.counter = 0
        self.results: dict[str, Any] = {}
        self.report: list[str] = []
        self.problems: list[str] = []

    # -- set-up --------------------------------------------------------------

    def database(self, db_kind: str, name: str) -> str:
        self.counter += 1
        name = f"{name}_{self.counter}"
        if db_kind == "sqlite":
            path = self.workdir / "sqlite" / f"{name}.db"
            path.parent.mkdir(parents=True, exist_ok=True)
            return f"sqlite:///{path}"
        assert self.postgres is not None
        return self.postgres.new_database(f"bench_{name}")

    def server(
        self,
        kind: str,
        rotate: bool,
        db_kind: str,
        name: str,
        db_url: str | None = None,
    ) -> Server:
        url = db_url or self.database(db_kind, name)
        home = self.workdir / "servers" / f"{name}_{self.counter}"
        home.mkdir(parents=True, exist_ok=True)
        return Server(
            kind=kind,
            rotate=rotate,
            db_kind=db_kind,
            db_url=url,
            home=home,
            instance=home / "instance",
            client_secret=self.secret,
            pg_pre_ping=self.settings.pg_pre_ping,
        )

    def start_all(self, servers: Sequence[Server]) -> None:
        for server in servers:
            server.add_chains(self.settings.connections)
        for server in servers:
            server.start()
        for server in servers:
            self.load([server], mode="count", requests=10)  # both workers warm

    # -- driving ---------------------------------------------------------------

    def load(
        self,
        targets: Sequence[Server],
        *,
        mode: str = "duration",
        duration: float | None = None,
        requests: int = 0,
        connections: int | None = None,
    ) -> dict[str, Any]:
        """Drive ``targets`` (connections spread round-robin) once."""
        s = self.settings
        n = connections or s.connections
        first = targets[0]
        first.add_chains(n)
        assignment = [i * len(targets) // n for i in range(n)]
        spec = {
            "mode": mode,
            "targets": [{"host": "127.0.0.1", "port": t.port} for t in targets],
            "path": TOKEN_PATH,
            "authorization": first.authorization,
            "scope": None,
            "connections": [
                {"target": assignment[i], "tokens": first.chains.lists[i]}
                for i in range(n)
            ],
            "warmup": s.warmup if mode == "duration" else 0.0,
            "duration": duration if duration is not None else s.duration,
            "requests": max(1, requests // n) if mode == "count" else 0,
        }
        self.counter += 1
        path = first.home / f"spec-{self.counter}.json"
        path.write_text(json.dumps(spec))
        workers = [pid for t in targets for pid in t.workers()]
        backends = self.postgres.backends() if self.postgres else []
        cpu_before = sum(cpu_seconds(pid) for pid in workers)
        db_before = sum(cpu_seconds(pid) for pid in backends)
        busy_before, total_before = machine_jiffies()
        budget = (
            spec["warmup"] + spec["duration"] + 120
            if mode == "duration"
            else 120 + requests * 0.02
        )
        result = run_python(
            [str(BENCH_DIR / "loadgen.py"), str(path)],
            dict(os.environ),
            timeout=budget,
            what=f"load on {first.label}",
        )
        busy_after, total_after = machine_jiffies()
        cpu = sum(cpu_seconds(pid) for pid in workers) - cpu_before
        db_cpu = sum(cpu_seconds(pid) for pid in backends) - db_before
        sent = result["sent"] or 1
        # Per request of the run, warm-up included.
        result["server_cpu_ms"] = cpu / sent * 1000
        result["db_cpu_ms"] = (
            db_cpu / sent * 1000 if first.db_kind != "sqlite" else math.nan
        )
        # What the rest of the machine used meanwhile (other processes: noise),
        # in % of all CPUs: busy time minus workers, PostgreSQL and client.
        tick = os.sysconf("SC_CLK_TCK")
        ours = cpu + db_cpu + result["client_cpu_ms"] * sent / 1000
        busy = (busy_after - busy_before) / tick
        capacity = (total_after - total_before) / tick
        result["other_cpu_pct"] = (
            max(0.0, busy - ours) / capacity * 100 if capacity else math.nan
        )
        first.chains.lists = [c["tokens"] for c in result.pop("chains")]
        if result["errors"]:
            self.problems.append(
                f"{first.label} rotation {'on' if first.rotate else 'off'} "
                f"({first.db_kind}): {result['errors']} errors {result['error_kinds']}"
            )
        return result

    def race(self, targets: Sequence[Server], token: str, size: int) -> dict[str, Any]:
        spec = {
            "mode": "race",
            "targets": [{"host": "127.0.0.1", "port": t.port} for t in targets],
            "path": TOKEN_PATH,
            "authorization": targets[0].authorization,
            "scope": None,
            "connections": [],
            "race": {"token": token, "per_target": size // len(targets)},
        }
        self.counter += 1
        path = targets[0].home / f"race-{self.counter}.json"
        path.write_text(json.dumps(spec))
        return run_python(
            [str(BENCH_DIR / "loadgen.py"), str(path)],
            dict(os.environ),
            timeout=120,
            what="race",
        )

    @staticmethod
    def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "rps": median([r["rps"] for r in runs]),
            "p50_ms": median([r["p50_ms"] for r in runs]),
            "p99_ms": median([r["p99_ms"] for r in runs]),
            "errors": sum(r["errors"] for r in runs),
            "server_cpu_ms": median([r["server_cpu_ms"] for r in runs]),
            "db_cpu_ms": median([r["db_cpu_ms"] for r in runs]),
            "other_cpu_pct": median([r["other_cpu_pct"] for r in runs]),
            "runs_other_cpu_pct": [round(r["other_cpu_pct"], 1) for r in runs],
            "client_cpu_ms": median([r["client_cpu_ms"] for r in runs]),
            "runs_rps": [round(r["rps"], 1) for r in runs],
            "runs_p50_ms": [round(r["p50_ms"], 3) for r in runs],
        }

    def emit(self, text: str) -> None:
        self.report.append(text)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    # -- sections ----------------------------------------------------------------

    def matrix(self) -> None:
        s = self.settings
        configs = [(kind, rotate) for rotate in (True, False) for kind in KINDS]
        figures: dict[str, dict[str, Any]] = {}
        for db_kind in s.databases:
            log(f"matrix: {db_kind}: seeding and starting 6 servers")
            servers = {
                (kind, rotate): self.server(
                    kind,
                    rotate,
                    db_kind,
                    f"{db_kind}_{kind}_{'on' if rotate else 'off'}",
                )
                for kind, rotate in configs
            }
            runs: dict[tuple[str, bool], list[dict[str, Any]]] = {
                c: [] for c in configs
            }
            try:
                self.start_all(list(servers.values()))
                for run in range(s.runs):
                    order = (
                        configs[run % len(configs) :] + configs[: run % len(configs)]
                    )
                    for config in order:
                        result = self.load([servers[config]])
                        runs[config].append(result)
                        log(
                            f"matrix: {db_kind} {LABELS[config[0]]:14s} rotation "
                            f"{'on ' if config[1] else 'off'} run {run + 1}/{s.runs}: "
                            f"{result['rps']:7.1f}/s p50 {result['p50_ms']:.2f} ms "
                            f"p99 {result['p99_ms']:.2f} ms errors {result['errors']}"
                        )
            finally:
                for server in servers.values():
                    if server.tracebacks():
                        self.problems.append(
                            f"{server.label} ({db_kind}): tracebacks in {server.logs}"
                        )
                    server.stop()
            for (kind, rotate), values in runs.items():
                key = f"{db_kind}/{kind}/{'on' if rotate else 'off'}"
                figures[key] = self.summary(values)
        self.results["matrix"] = figures
        self.print_matrix(figures)

    def print_matrix(self, figures: dict[str, dict[str, Any]]) -> None:
        s = self.settings
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
                            " ".join(f"{x:.0f}" for x in f["runs_rps"]),
                            " ".join(f"{x:.0f}" for x in f["runs_other_cpu_pct"]),
                        ]
                    )
        self.emit(
            f"\n== Token endpoint: refresh grant under gunicorn (2 sync workers, "
            f"127.0.0.1), {s.connections} client connections, median of {s.runs} "
            f"run(s) x {s.duration:g} s after {s.warmup:g} s warm-up ==\n"
        )
        self.emit(
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
                    "cli CPU ms/r",
                    "runs (refreshes/s)",
                    "other load %",
                ],
                rows,
            )
        )
        self.emit(
            "\napp CPU: the 2 gunicorn workers' CPU per refresh; db CPU: PostgreSQL's "
            "backends' per refresh; cli CPU: the load generator's; other load: CPU "
            "used by everything else on the machine during each run, in % of all "
            "CPUs (noise: other tenants, other test runs)."
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
                    ratio(a, b)
                    for a, b in zip(p["runs_rps"], f["runs_rps"], strict=True)
                ]
                per_recipe = [
                    ratio(a, b)
                    for a, b in zip(p["runs_rps"], r["runs_rps"], strict=True)
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
        self.emit(
            "\nRatios: throughput project/other, the median of the per-round ratios "
            "(each round runs every server back to back); p50 latency project/other "
            "(lower is better); server CPU per refresh other/project (higher is "
            "better for the project):\n"
        )
        self.emit(
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

    def scaling(self) -> None:
        """One server per size (separate databases, bulk-seeded), all running;
        their runs interleaved so that a change of machine load hits both."""
        s = self.settings
        figures: dict[str, Any] = {}
        rows = []
        for db_kind in s.databases:
            for kind in s.scale_kinds:
                servers: dict[int, Server] = {}
                per_size: dict[int, dict[str, Any]] = {}
                runs: dict[int, list[dict[str, Any]]] = {}
                try:
                    for size in s.scale_sizes:
                        server = self.server(
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
                        self.load([server], mode="count", requests=50)
                        servers[size] = server
                        runs[size] = []
                        per_size[size] = {
                            "rows": seeded["rows"],
                            "seed_seconds": round(took, 1),
                        }
                    for run in range(s.runs):
                        order = (
                            list(servers) if run % 2 == 0 else list(reversed(servers))
                        )
                        for size in order:
                            result = self.load(
                                [servers[size]], duration=s.scale_duration
                            )
                            runs[size].append(result)
                            log(
                                f"scaling: {db_kind} {LABELS[kind]} {size} rows run {run + 1}: "
                                f"{result['rps']:.1f}/s p50 {result['p50_ms']:.2f} ms"
                            )
                except Exception as error:  # report the largest size reached
                    self.problems.append(f"scaling {db_kind} {LABELS[kind]}: {error}")
                    log(f"scaling: {db_kind} {LABELS[kind]}: stopped: {error}")
                finally:
                    for server in servers.values():
                        server.stop()
                measured = {size: v for size, v in runs.items() if v}
                for size, values in measured.items():
                    per_size[size].update(self.summary(values))
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
        self.results["scaling"] = figures
        sizes = s.scale_sizes
        self.emit(
            f"\n== Scaling: rotation on, {sizes[0]:,} vs {sizes[-1]:,} rows already in "
            f"each token table (bulk-written; one server per size, runs interleaved), "
            f"median of {s.runs} x {s.scale_duration:g} s ==\n"
        )
        self.emit(
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

    def memory(self) -> None:
        s = self.settings
        db_kind = "postgresql" if "postgresql" in s.databases else s.databases[0]
        first, last = s.memory_counts
        server = self.server("project", True, db_kind, f"memory_{db_kind}")
        readings: dict[str, dict[int, int]] = {}
        try:
            server.add_chains(s.connections)
            server.start()
            done = 0
            for label, count in (("first", first), ("last", last)):
                started = time.perf_counter()
                self.load([server], mode="count", requests=count - done)
                done = count
                time.sleep(0.5)
                readings[label] = {pid: rss_kib(pid) for pid in server.workers()}
                log(
                    f"memory: after {count} refreshes ({time.perf_counter() - started:.0f} s): "
                    f"RSS {readings[label]} KiB"
                )
        finally:
            server.stop()
        rows = []
        ratios = []
        for pid, before in readings["first"].items():
            after = readings["last"].get(pid, 0)
            r = ratio(after, before)
            ratios.append(r)
            rows.append([pid, before / 1024, after / 1024, r])
        worst = max(ratios) if ratios else math.nan
        self.results["memory"] = {
            "db": db_kind,
            "counts": [first, last],
            "rss_kib": {
                k: {str(p): v for p, v in d.items()} for k, d in readings.items()
            },
            "worst_ratio": worst,
        }
        note = " (--quick: smaller counts than the issue's 1k/100k)" if s.quick else ""
        self.emit(
            f"\n== Memory: project (rotation on, {db_kind}), worker RSS after "
            f"{last:,} refreshes vs after {first:,}{note} ==\n"
        )
        self.emit(
            table(
                ["worker pid", f"RSS MiB @{first:,}", f"RSS MiB @{last:,}", "ratio"],
                rows,
            )
        )
        self.emit(
            f"worst ratio {worst:.3f}: {verdict(worst <= TARGET_MEMORY)} (<= {TARGET_MEMORY})"
        )

    def scaleout(self) -> None:
        s = self.settings
        if "postgresql" not in s.databases:
            self.emit("\n== Scale-out: skipped (needs PostgreSQL) ==")
            return
        url = self.database("postgresql", "scaleout")
        a = self.server("project", True, "postgresql", "scaleout_a", db_url=url)
        b = self.server("project", True, "postgresql", "scaleout_b", db_url=url)
        b.instance = a.instance  # one SECRET_KEY, one demo client, one set-up lock
        b.chains = a.chains
        single: list[dict[str, Any]] = []
        dual: list[dict[str, Any]] = []
        trials: list[dict[str, Any]] = []
        try:
            a.add_chains(s.connections)
            a.start()
            b.start()
            b.client_id, b.client_secret = a.client_id, a.client_secret
            self.load([a], mode="count", requests=20)
            self.load([a, b], mode="count", requests=20)
            for run in range(s.runs):
                for name, targets, into in (
                    ("one", [a], single),
                    ("two", [a, b], dual),
                ):
                    result = self.load(targets)
                    into.append(result)
                    log(
                        f"scale-out: {name} server(s) run {run + 1}: {result['rps']:.1f}/s "
                        f"p50 {result['p50_ms']:.2f} ms"
                    )
            tokens = a.seed(chains=s.race_trials)["tokens"]
            for n, token in enumerate(tokens):
                outcome = self.race([a, b], token, s.race_size)
                trials.append(outcome)
                log(f"race trial {n + 1}: {outcome['outcomes']}")
        finally:
            b.stop()
            a.stop()
        one, two = self.summary(single), self.summary(dual)
        scale = ratio(two["rps"], one["rps"])
        self.results["scaleout"] = {
            "one": one,
            "two": two,
            "ratio": scale,
            "race": trials,
        }
        self.emit(
            f"\n== Scale-out: two example-app servers (separate gunicorn masters, "
            f"2 sync workers each) on one PostgreSQL; {s.connections} connections "
            f"split across both ==\n"
        )
        self.emit(
            table(
                ["servers", "refreshes/s", "p50 ms", "p99 ms", "errors"],
                [
                    ["one", one["rps"], one["p50_ms"], one["p99_ms"], one["errors"]],
                    ["two", two["rps"], two["p50_ms"], two["p99_ms"], two["errors"]],
                ],
            )
        )
        self.emit(f"two/one throughput: {scale:.2f}")
        per = s.race_size // 2
        self.emit(
            f"\nRace: the same refresh token in {2 * per} simultaneous requests "
            f"({per} to each server), {len(trials)} trials:"
        )
        rows = [
            [
                n + 1,
                t["ok"],
                " + ".join(str(x) for x in t["ok_by_target"]),
                ", ".join(f"{k}: {v}" for k, v in sorted(t["outcomes"].items())),
            ]
            for n, t in enumerate(trials)
        ]
        self.emit(table(["trial", "200s", "200s by server", "all outcomes"], rows))
        exact = all(t["ok"] == 1 for t in trials)
        self.emit(f"exactly one 200 in every trial: {verdict(exact)}")
        self.recipe_race()

    def recipe_race(self) -> None:
        """For contrast, the same race against the Authlib recipe (one server):
        it saves the new token and revokes the old one in two commits."""
        s = self.settings
        server = self.server("recipe", True, "postgresql", "race_recipe")
        trials: list[dict[str, Any]] = []
        try:
            tokens = server.seed(chains=s.race_trials)["tokens"]
            server.start()
            for token in tokens:
                trials.append(self.race([server], token, s.race_size))
        finally:
            server.stop()
        self.results.setdefault("scaleout", {})["recipe_race"] = trials
        self.emit(
            f"\nFor contrast, the authlib-recipe (one server, PostgreSQL), same race "
            f"({s.race_size} requests): 200s per trial: "
            + ", ".join(str(t["ok"]) for t in trials)
        )

    def profile(self) -> None:
        s = self.settings
        counts = []
        profiles: dict[str, Any] = {}
        for db_kind in s.databases:
            for rotate in (True, False):
                for kind in KINDS:
                    server = self.server(
                        kind,
                        rotate,
                        db_kind,
                        f"profile_{db_kind}_{kind}_{'on' if rotate else 'off'}",
                    )
                    deep = kind == "project"
                    args = [
                        str(BENCH_DIR / "profile_endpoint.py"),
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
                            ", ".join(
                                f"{k} {v:g}" for k, v in result["by_verb"].items()
                            ),
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
        self.results["profile"] = profiles
        self.emit(
            "\n== SQL per refresh (before_cursor_execute listener; in-process, "
            "Flask test client, no HTTP) ==\n"
        )
        self.emit(
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
                self.emit(
                    f"\nproject, rotation {rotate}, {db_kind}: the statements of one refresh:"
                )
                for statement in result["one_refresh"]:
                    self.emit(f"  {statement}")
        for db_kind in s.databases:
            for rotate in ("on", "off"):
                result = profiles[f"{db_kind}/project/{rotate}"]
                self.emit(
                    f"\n== Profile: project token endpoint, rotation {rotate}, {db_kind}, "
                    f"{result['profile_requests']} refreshes in-process under cProfile "
                    f"(cumulative; nested parts are inside their parents) ==\n"
                )
                self.emit(
                    table(
                        ["part of the request", "calls/refresh", "ms/refresh", "share"],
                        [
                            [
                                p["part"],
                                ""
                                if p["share"] is None
                                else f"{p['calls_per_refresh']:g}",
                                ""
                                if p["share"] is None
                                else f"{p['ms_per_refresh']:.3f}",
                                ""
                                if p["share"] is None
                                else f"{p['share'] * 100:.1f}%",
                            ]
                            for p in result["parts"]
                        ],
                    )
                )
                if rotate == "on":
                    self.emit("\nTop functions by cumulative time:\n")
                    self.emit(result["top_cumulative"].rstrip())
                    self.emit("\nTop functions by own time:\n")
                    self.emit(result["top_own"].rstrip())

    # -- everything --------------------------------------------------------------

    def run(self) -> None:
        s = self.settings
        started = time.perf_counter()
        self.emit(
            f"flask-refreshgrant benchmark{' (--quick smoke run)' if s.quick else ''}: "
            f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
            f"databases {', '.join(s.databases)}; sections {', '.join(s.sections)}"
        )
        self.emit(
            "SQLite: file DB, WAL + busy_timeout 30 s for every server; PostgreSQL: "
            f"{json.dumps(engine_options('postgresql://', s.pg_pre_ping))} for every server."
        )
        if "postgresql" in s.databases:
            self.postgres = Postgres(self.workdir / "pg", s.pg_port)
            log(f"starting PostgreSQL on 127.0.0.1:{s.pg_port}")
            self.postgres.start()
        sections: dict[str, Callable[[], None]] = {
            "matrix": self.matrix,
            "scaling": self.scaling,
            "memory": self.memory,
            "scaleout": self.scaleout,
            "profile": self.profile,
        }
        for name in SECTIONS:
            if name in s.sections:
                section_started = time.perf_counter()
                log(f"section {name}")
                try:
                    sections[name]()
                except Exception as error:
                    self.problems.append(f"section {name} failed: {error}")
                    log(f"section {name} FAILED: {error}")
                self.results.setdefault("seconds", {})[name] = round(
                    time.perf_counter() - section_started, 1
                )
        total = time.perf_counter() - started
        if self.problems:
            self.emit("\n== Problems ==")
            for problem in self.problems:
                self.emit(f"* {problem}")
        timings = ", ".join(
            f"{k} {v:.0f} s" for k, v in self.results.get("seconds", {}).items()
        )
        self.emit(f"\nWall time {total / 60:.1f} min ({timings}).")
        if s.json_path:
            self.results["settings"] = {
                k: (str(v) if isinstance(v, Path) else v) for k, v in vars(s).items()
            }
            self.results["report"] = "\n".join(self.report)
            s.json_path.write_text(json.dumps(self.results, indent=2, default=str))


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
        bench.run()


if __name__ == "__main__":
    main()
