"""Issue 10's closing figures for password guessing, measured over HTTP
against the example app under gunicorn (2 sync workers, 127.0.0.1):

* how many wrong passwords for ``demo`` are answered before the lock, and
  the time per attempt while it is locked;
* the timing oracle: median time of a password grant (and of a login-page
  post) for an unknown username vs a known one with a wrong password, over
  ``--tries`` (30) tries each — once with the lock off
  (``OAUTH2_PASSWORD_MAX_FAILURES=0``, the issue's own measurement: the same
  usernames again and again) and once with it on (one try per username, so
  that no lock gets in the way: ``--tries`` unknown usernames vs ``--tries``
  existing users).

    .venv/bin/python bench/tools/password_timing.py [--database-url URL] [--tries 30]

SQLite in a temporary folder unless ``--database-url`` names a PostgreSQL
database (it is wiped). Prints a table; ``--json FILE`` also writes it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def environment(database_url: str, instance: Path, **config: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FLASK_", "EXAMPLE_", "GUNICORN_"))
    }
    env.update(
        DATABASE_URL=database_url,
        EXAMPLE_INSTANCE_PATH=str(instance),
        FLASK_EXAMPLE_QUIET="true",
        **config,
    )
    return env


def create_users(env: dict[str, str], count: int) -> None:
    """``user0`` … with password ``right-password``, in one process."""
    script = (
        "import sys\n"
        "from example_app import create_app\n"
        "from example_app.models import User, db\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        f"    for i in range({count}):\n"
        "        if db.session.query(User).filter_by(username=f'user{i}').first():\n"
        "            continue\n"
        "        user = User(username=f'user{i}')\n"
        "        user.set_password('right-password')\n"
        "        db.session.add(user)\n"
        "    db.session.commit()\n"
    )
    subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, check=True, timeout=600
    )


@contextmanager
def gunicorn(env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "example_app:create_app()",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--no-control-socket",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(base + "/oauth2/token", timeout=2).status_code == 405:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            raise RuntimeError("gunicorn did not start")
        yield base
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=20)


def demo_auth(instance: Path) -> tuple[str, str]:
    creds = json.loads((instance / "demo-client.json").read_text())
    return creds["client_id"], creds["client_secret"]


def timed(call: Callable[[], requests.Response]) -> tuple[float, requests.Response]:
    started = time.perf_counter()
    response = call()
    return (time.perf_counter() - started) * 1000, response


class Target:
    """The password grant and the login page of one running app."""

    def __init__(self, base: str, auth: tuple[str, str]) -> None:
        self.base = base
        self.auth = auth
        self.http = requests.Session()
        page = self.http.get(base + "/login", timeout=TIMEOUT).text
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match is not None
        self.csrf = match.group(1)

    def grant(self, username: str, password: str) -> tuple[float, requests.Response]:
        form = {"grant_type": "password", "username": username, "password": password}
        return timed(
            lambda: self.http.post(
                self.base + "/oauth2/token", data=form, auth=self.auth, timeout=TIMEOUT
            )
        )

    def login(self, username: str, password: str) -> tuple[float, requests.Response]:
        form = {
            "csrf_token": self.csrf,
            "next": "/",
            "username": username,
            "password": password,
        }
        return timed(
            lambda: self.http.post(
                self.base + "/login", data=form, allow_redirects=False, timeout=TIMEOUT
            )
        )


def median(values: list[float]) -> float:
    return round(statistics.median(values), 1)


def oracle(
    target: Target, tries: int, *, lock_on: bool, offset: int
) -> dict[str, float]:
    """Medians (ms): unknown username vs known username with a wrong password."""
    result: dict[str, float] = {}
    for where, call in (("grant", target.grant), ("login", target.login)):
        unknown, known = [], []
        for i in range(tries):
            # Interleaved, so that a change in the machine's load hits both.
            n = offset + i if lock_on else 0
            ms, response = call(f"nobody{n}-{where}", "wrong-password")
            assert response.status_code in (400, 401), response.text
            unknown.append(ms)
            name = f"user{n}" if lock_on else "demo"
            ms, response = call(name, f"wrong-password-{where}")
            assert response.status_code in (400, 401), response.text
            assert "Retry-After" not in response.headers, (name, where)
            known.append(ms)
        result[f"{where} unknown"] = median(unknown)
        result[f"{where} wrong password"] = median(known)
        if lock_on:  # the login page tries the next block of users
            offset += tries
    return result


def lock_figures(target: Target, tries: int) -> dict[str, Any]:
    """Attempts before the lock, and time per attempt while locked."""
    answered = 0
    while True:
        _, response = target.grant("demo", "wrong-password")
        answered += 1
        if "Retry-After" in response.headers or answered > 100:
            break
    locked = []
    for _ in range(tries):
        ms, response = target.grant("demo", "demo")  # the right password
        assert response.status_code == 400 and "Retry-After" in response.headers
        locked.append(ms)
    return {
        "wrong passwords answered before the lock (the last one locks)": answered,
        "right password while locked: status": 400,
        "right password while locked: median ms": median(locked),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--tries", type=int, default=30)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        instance = Path(folder) / "instance"
        database_url = args.database_url or f"sqlite:///{folder}/timing.db"
        if args.database_url:
            import sqlalchemy as sa

            engine = sa.create_engine(database_url)
            with engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE"))
                conn.execute(sa.text("CREATE SCHEMA public"))
            engine.dispose()
        report["database"] = database_url.split(":", 1)[0]
        env_off = environment(
            database_url, instance, FLASK_OAUTH2_PASSWORD_MAX_FAILURES="0"
        )
        create_users(env_off, 2 * args.tries)
        with gunicorn(env_off) as base:
            target = Target(base, demo_auth(instance))
            report["lock off (same usernames each try)"] = oracle(
                target, args.tries, lock_on=False, offset=0
            )
        env_on = environment(database_url, instance)
        with gunicorn(env_on) as base:
            target = Target(base, demo_auth(instance))
            report["lock on (one try per username)"] = oracle(
                target, args.tries, lock_on=True, offset=0
            )
            report["lock"] = lock_figures(target, args.tries)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
