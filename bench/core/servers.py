"""The processes the bench starts: its PostgreSQL, gunicorn servers, scripts."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.common import TOKEN_PATH, basic_auth, engine_options
from core.measure import proc_children
from core.settings import LABELS

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO = BENCH_DIR.parent
PYTHON = sys.executable
APPS = {
    "project": "example_app:create_app()",
    "floor": "apps.floor_app:create_app()",
    "spec": "apps.spec_floor_app:create_app()",
    "recipe": "apps.authlib_recipe_app:create_app()",
}
#: The same for every server.
GUNICORN_WORKERS = ("--workers", "2", "--worker-class", "sync")
STARTUP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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
    #: Bearer tokens for the resource section, one per connection.
    access_tokens: list[str] = field(default_factory=list)
    #: MCP session ids (``Mcp-Session-Id``), one per connection, each opened
    #: with that connection's access token.
    sessions: list[str] = field(default_factory=list)
    #: The gunicorn app when not the kind's usual one (``APPS``); from bench/.
    app: str | None = None
    client_id: str = ""
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)
    #: More environment for the server (e.g. metrics settings).
    extra_env: dict[str, str] = field(default_factory=dict)
    #: gunicorn's worker options (the soak runs more workers).
    worker_args: tuple[str, ...] = GUNICORN_WORKERS
    #: A server that is not gunicorn (the example MCP server): its command
    #: line, ``{port}`` filled in. One process, its own worker.
    command: tuple[str, ...] = ()
    #: The example app's ``OAUTH2_ISSUER`` is this server's own URL (what a
    #: resource server fetches its metadata and JWKS from).
    own_issuer: bool = False
    #: More options for ``apps/seed.py`` (e.g. ``--code-scope``).
    seed_args: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return LABELS[self.kind]

    @property
    def authorization(self) -> str:
        return basic_auth(self.client_id, self.client_secret)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("FLASK_", "EXAMPLE_", "GUNICORN_", "BENCH_"))
            and k
            not in (
                "DATABASE_URL",
                "AUTHLIB_INSECURE_TRANSPORT",
                "PROMETHEUS_MULTIPROC_DIR",
                "prometheus_multiproc_dir",
            )
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
            if self.own_issuer and self.port:
                env.update(FLASK_OAUTH2_ISSUER=self.base_url)
        else:
            env.update(
                BENCH_ENGINE_OPTIONS=options,
                BENCH_ROTATE=json.dumps(self.rotate),
                BENCH_CLIENT_ID=f"{self.kind}-client",
                BENCH_CLIENT_SECRET=self.client_secret,
            )
        env.update(self.extra_env)
        return env

    def seed(
        self, chains: int = 0, background: int = 0, access: int = 0
    ) -> dict[str, Any]:
        result = run_python(
            [
                str(BENCH_DIR / "apps" / "seed.py"),
                self.kind,
                "--chains",
                str(chains),
                "--background",
                str(background),
                "--access",
                str(access),
                *self.seed_args,
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

    def add_access_tokens(self, connections: int) -> None:
        """Enough valid access tokens for ``connections`` (fresh grants)."""
        missing = connections - len(self.access_tokens)
        if missing > 0:
            self.access_tokens += self.seed(access=missing)["access_tokens"]

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        for _attempt in range(3):
            self.port = free_port()
            out = self.home / f"gunicorn-{self.port}.out"
            err = self.home / f"gunicorn-{self.port}.err"
            self.logs = [out, err]
            command = [c.replace("{port}", str(self.port)) for c in self.command]
            command = command or [
                PYTHON,
                "-m",
                "gunicorn",
                self.app or APPS[self.kind],
                "--bind",
                f"127.0.0.1:{self.port}",
                *self.worker_args,
                "--timeout",
                "120",
                "--graceful-timeout",
                "5",
                # gunicorn >= 25 listens on ~/.gunicorn/gunicorn.ctl by default,
                # shared by every server on the machine: off.
                "--no-control-socket",
            ]
            if not self.command and (self.kind != "project" or self.app):
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
        """Until the token endpoint answers (any status) and both workers are
        forked (a ``command`` server: until it answers)."""
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
            if self.command or len(proc_children(self.process.pid)) >= 2:
                return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn ({self.label}) not ready in {STARTUP_TIMEOUT} s")

    def workers(self) -> list[int]:
        if self.process is None:
            return []
        return [self.process.pid] if self.command else proc_children(self.process.pid)

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
