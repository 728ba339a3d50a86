"""The soak's wrk half: ``soak.lua`` on N connections for the whole run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from core.common import basic_auth

SCRIPT = Path(__file__).resolve().parent / "soak.lua"


@dataclass
class WrkRun:
    """A running wrk and where its result goes."""

    popen: subprocess.Popen[bytes]
    out: Path
    log: Path

    def wait(self, timeout: float) -> dict[str, Any]:
        """Its result once it has stopped by itself (``-d``); interrupted if
        it overruns ``timeout``, when wrk still writes its result."""
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.send_signal(signal.SIGINT)
            self.popen.wait(timeout=30)
        if not self.out.exists():
            raise RuntimeError(f"wrk wrote no result:\n{self.log.read_text()[-2000:]}")
        result: dict[str, Any] = json.loads(self.out.read_text())
        return result


def start(
    wrk: str,
    base_url: str,
    directory: Path,
    *,
    connections: int,
    seconds: int,
    rotate: tuple[str, str],
    renew_off: tuple[str, str],
) -> WrkRun:
    """wrk with one thread per connection: odd connections use the rotating
    client, even ones the client with renewal off."""
    directory.mkdir(parents=True, exist_ok=True)
    spec = directory / "wrk.spec"
    out = directory / "wrk.json"
    log = directory / "wrk.log"
    password = urlencode(
        {
            "grant_type": "password",
            "username": "demo",
            "password": "demo",
            "scope": "PRODUCTION SANDBOX",
        }
    )
    spec.write_text(
        f"auth1 {basic_auth(*rotate)}\n"
        f"auth2 {basic_auth(*renew_off)}\n"
        f"password {password}\n"
        f"out {out}\n"
    )
    with log.open("wb") as stdout:
        popen = subprocess.Popen(
            [
                wrk,
                "-t",
                str(connections),
                "-c",
                str(connections),
                "-d",
                f"{seconds}s",
                "--timeout",
                "30s",
                "-s",
                str(SCRIPT),
                base_url,
            ],
            env={**os.environ, "SOAK_WRK_SPEC": str(spec)},
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT,
        )
    return WrkRun(popen, out, log)


def events(result: dict[str, Any]) -> list[tuple[int, str, int, str, str, int]]:
    """wrk's buckets as ``(second, step, status, error, retry, count)``."""
    rows = []
    for key, count in result.get("buckets", {}).items():
        _conn, second, step, status, error, retry = key.split("|")
        rows.append((int(second), step, int(status), error, retry, int(count)))
    return rows
