"""Run the real example app under a real gunicorn, and talk to it over HTTP.

Used by ``test_live_server.py``. :func:`live_server` starts
``gunicorn 'example_app:create_app()'`` on a free port of 127.0.0.1 in its own
process group, waits until the token endpoint answers, and always stops it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

REPO_ROOT = Path(__file__).resolve().parents[1]
APP = "example_app:create_app()"
BANNER_TITLE = "=== flask-refreshgrant example app ==="
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo"
DEMO_SCOPE = "PRODUCTION SANDBOX"
STARTUP_TIMEOUT = 30.0
REQUEST_TIMEOUT = 30.0

#: gunicorn's own arguments for each worker model under test.
WORKER_MODELS: dict[str, tuple[str, ...]] = {
    "sync": ("--workers", "2"),
    "gthread": ("--worker-class", "gthread", "--workers", "2", "--threads", "4"),
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def database_kind(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


@dataclass
class LiveServer:
    """A running gunicorn serving the example app, and HTTP helpers for it."""

    base_url: str
    process: subprocess.Popen[bytes]
    instance: Path
    stdout_path: Path
    stderr_path: Path
    _credentials: tuple[str, str] | None = field(default=None, repr=False)

    # -- output ---------------------------------------------------------------

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def output(self, limit: int = 6000) -> str:
        """The end of what gunicorn and the app printed, for assertion messages."""
        return (
            f"--- gunicorn stdout (last {limit} chars) ---\n{self.stdout()[-limit:]}\n"
            f"--- gunicorn stderr (last {limit} chars) ---\n{self.stderr()[-limit:]}"
        )

    def banner(self) -> str:
        """The banner the app printed on first start (exactly once)."""
        text = self.stdout()
        count = text.count(BANNER_TITLE)
        assert count == 1, f"expected one banner, found {count}\n{self.output()}"
        return text[text.index(BANNER_TITLE) :]

    # -- credentials ----------------------------------------------------------

    @property
    def credentials(self) -> tuple[str, str]:
        """The demo client's id and secret, from ``<instance>/demo-client.json``
        (the app's instance folder is ours: ``EXAMPLE_INSTANCE_PATH``)."""
        if self._credentials is None:
            path = self.instance / "demo-client.json"
            assert path.exists(), f"no {path}: EXAMPLE_INSTANCE_PATH ignored?"
            data = json.loads(path.read_text())
            self._credentials = (data["client_id"], data["client_secret"])
        return self._credentials

    # -- HTTP -----------------------------------------------------------------

    @property
    def token_url(self) -> str:
        return self.base_url + "/oauth2/token"

    def token(
        self, data: Mapping[str, str], session: requests.Session | None = None
    ) -> requests.Response:
        """POST a form to the token endpoint with HTTP Basic client auth."""
        post = requests.post if session is None else session.post
        return post(
            self.token_url,
            data=dict(data),
            auth=self.credentials,
            timeout=REQUEST_TIMEOUT,
        )

    def password_grant(self, scope: str = DEMO_SCOPE) -> dict[str, Any]:
        response = self.token(
            {
                "grant_type": "password",
                "username": DEMO_USERNAME,
                "password": DEMO_PASSWORD,
                "scope": scope,
            }
        )
        assert response.status_code == 200, (response.status_code, response.text)
        body: dict[str, Any] = response.json()
        return body

    def refresh(
        self,
        refresh_token: str,
        scope: str | None = "PRODUCTION",
        session: requests.Session | None = None,
    ) -> requests.Response:
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if scope is not None:
            data["scope"] = scope
        return self.token(data, session)

    def me(self, access_token: str) -> requests.Response:
        return requests.get(
            self.base_url + "/api/me",
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=REQUEST_TIMEOUT,
        )


def parse_banner_credentials(banner: str) -> tuple[str, str]:
    values: dict[str, str] = {}
    for line in banner.splitlines():
        key, sep, value = line.partition(":")
        if sep and key in ("client_id", "client_secret"):
            values[key] = value.strip()
    return values["client_id"], values["client_secret"]


def _environment(
    database_url: str,
    instance: Path,
    base_url: str | None,
    config: Mapping[str, str],
) -> dict[str, str]:
    # Nothing of the caller's Flask or database settings may leak in.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FLASK_", "EXAMPLE_", "GUNICORN_"))
        and key
        not in (
            "DATABASE_URL",
            "GUNICORN_CMD_ARGS",
            "PROMETHEUS_MULTIPROC_DIR",
            "prometheus_multiproc_dir",
        )
    }
    env.update(
        DATABASE_URL=database_url,
        EXAMPLE_INSTANCE_PATH=str(instance),
        FLASK_EXAMPLE_QUIET="false",
        PYTHONUNBUFFERED="1",
        # The banner's curl commands call ``python3``: make it this venv's.
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    if base_url is not None:
        env["FLASK_EXAMPLE_BASE_URL"] = base_url
    env.update(config)
    return env


def example_environment(server: LiveServer, database_url: str) -> dict[str, str]:
    """The environment ``server`` runs with, for another process of the
    example app (a CLI command, a client script) on the same database."""
    return _environment(database_url, server.instance, server.base_url, {})


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to gunicorn's process group, then SIGKILL if it lingers."""
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
    # Workers left behind by a dead master, or a master that ignored SIGTERM.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def _wait_until_ready(server: LiveServer) -> None:
    """Poll ``GET /oauth2/token`` until it answers with the JSON 405."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last = "no answer"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"gunicorn exited with {server.process.returncode} before it "
                f"answered ({last})\n{server.output()}"
            )
        try:
            response = requests.get(server.token_url, timeout=2)
        except requests.RequestException as error:
            last = repr(error)
        else:
            if (
                response.status_code == 405
                and response.headers.get("Content-Type", "").startswith(
                    "application/json"
                )
                and response.json().get("error") == "invalid_request"
            ):
                return
            last = f"{response.status_code} {response.text[:200]!r}"
        time.sleep(0.1)
    raise TimeoutError(
        f"gunicorn did not answer GET /oauth2/token with a JSON 405 within "
        f"{STARTUP_TIMEOUT:.0f} s (last: {last})\n{server.output()}"
    )


@contextmanager
def live_server(
    tmp_path: Path,
    database_url: str,
    worker_args: Sequence[str] = WORKER_MODELS["sync"],
    config: Mapping[str, str] | None = None,
    *,
    tell_base_url: bool = True,
    app: str = APP,
) -> Iterator[LiveServer]:
    """Start gunicorn on the example app; stop it (and its workers) on exit.

    ``config`` is extra environment, e.g. ``FLASK_OAUTH2_…`` settings that the
    app loads with ``app.config.from_prefixed_env()``. With ``tell_base_url``
    off, the app is not told where it is served (no ``EXAMPLE_BASE_URL``), as
    when a newcomer runs gunicorn by hand. Several servers may share one
    ``tmp_path`` (one instance folder: one secret key, one demo client).
    ``app`` is gunicorn's application (e.g. ``tests.counting_app:create_app()``).
    """
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    for attempt in range(3):
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        stdout_path = tmp_path / f"gunicorn-{port}.out"
        stderr_path = tmp_path / f"gunicorn-{port}.err"
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            app,
            "--bind",
            f"127.0.0.1:{port}",
            *worker_args,
            "--graceful-timeout",
            "5",
            # gunicorn >= 25 listens on ~/.gunicorn/gunicorn.ctl by default:
            # shared by every server on the machine, so off.
            "--no-control-socket",
        ]
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=_environment(
                    database_url,
                    instance,
                    base_url if tell_base_url else None,
                    config or {},
                ),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        server = LiveServer(base_url, process, instance, stdout_path, stderr_path)
        try:
            _wait_until_ready(server)
        except RuntimeError:
            _stop(process)
            # Another process took the port between free_port() and bind.
            if attempt < 2 and "Address already in use" in server.stderr():
                continue
            raise
        except BaseException:
            _stop(process)
            raise
        break
    try:
        yield server
    finally:
        _stop(server.process)
    # Every request was answered cleanly: no worker logged a traceback.
    assert "Traceback" not in server.stderr(), server.output()


def race(
    server: LiveServer, refresh_token: str, n: int, scope: str | None = "PRODUCTION"
) -> list[requests.Response]:
    """``n`` threads, released together, each presenting ``refresh_token``."""
    return together(n, lambda session, _: server.refresh(refresh_token, scope, session))


def together(
    n: int, send: Callable[[requests.Session, int], requests.Response]
) -> list[requests.Response]:
    """``n`` threads, released together, each calling ``send(session, i)``."""
    barrier = threading.Barrier(n)
    responses: list[requests.Response | None] = [None] * n
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            with requests.Session() as session:
                barrier.wait(timeout=REQUEST_TIMEOUT)
                responses[index] = send(session, index)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise AssertionError(f"{len(errors)} request(s) failed: {errors!r}")
    return [response for response in responses if response is not None]


def describe(responses: Sequence[requests.Response]) -> str:
    """``200: 1, 400 invalid_grant: 11``: status and error of each response."""
    counts: dict[str, int] = {}
    for response in responses:
        key = str(response.status_code)
        try:
            body = response.json()
        except ValueError:
            key += f" non-JSON {response.text[:80]!r}"
        else:
            if isinstance(body, dict) and "error" in body:
                key += f" {body['error']}"
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{key}: {count}" for key, count in sorted(counts.items()))


def count_rows(database_url: str, sql: str) -> int:
    """``sql``'s one number, read on a connection of its own."""
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql)).scalar_one())
    finally:
        engine.dispose()
