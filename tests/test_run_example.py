"""``scripts/run-example``, the README's first command: its own options
(``--port`` given to flask once, ``--help`` without the banner). Run with
``SKIP_INSTALL=1``: this virtualenv has what it installs."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import requests

from .live import BANNER_TITLE, REPO_ROOT, free_port

SCRIPT = REPO_ROOT / "scripts" / "run-example"


def environment(tmp_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FLASK_", "EXAMPLE_", "DATABASE_URL"))
    }
    env.update(
        SKIP_INSTALL="1",
        EXAMPLE_INSTANCE_PATH=str(tmp_path / "instance"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'run-example.db'}",
    )
    return env


def test_help_is_flask_runs_help_only(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(SCRIPT), "--help"],
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: ")
    assert "--port" in done.stdout
    assert BANNER_TITLE not in done.stdout + done.stderr


def test_serves_on_the_port_given_once(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "run-example.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(SCRIPT), "--port", str(port)],
            env=environment(tmp_path),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                response = requests.get(base + "/login", timeout=5)
                break
            except requests.ConnectionError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        assert response.status_code == 200
        printed = log.read_text()
        assert printed.count(BANNER_TITLE) == 1
        assert f"{base}/oauth2/token" in printed
        assert "Error" not in printed
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)
