"""Run the Node interop scripts of ``tests/interop/`` and read their JSON.

Independent clients checking the server: openid-client (a certified OpenID
Connect relying party, also an RFC 6749 client) and jose. The scripts are
small ESM programs that each print one JSON document; on a failure they print
``{"error": {...}}`` and exit 1 (2 for a usage error).

The ``node`` fixture (``tests/conftest.py``) gives a :class:`NodeInterop`
once per session: it runs ``npm ci`` into ``tests/interop/node_modules`` when
that is missing or older than ``package-lock.json``. Without ``node`` and
``npm`` on ``PATH`` (Node >= 20), tests that use it skip with a reason;
``REQUIRE_INTEROP=1`` (``.ci/run`` sets it) turns the skip into a failure.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

from flask_refreshgrant import ClientCredentials

from .live import LiveServer

INTEROP_DIR = Path(__file__).resolve().parent / "interop"
REQUIRE_INTEROP = os.environ.get("REQUIRE_INTEROP") == "1"
MIN_NODE_MAJOR = 20
NPM_TIMEOUT = 600.0
SCRIPT_TIMEOUT = 120.0
#: Written into node_modules after a successful ``npm ci``: what it installed.
STAMP = INTEROP_DIR / "node_modules" / ".interop-installed"


def unavailable(reason: str) -> NoReturn:
    """Skip, or fail under ``REQUIRE_INTEROP=1``."""
    if REQUIRE_INTEROP:
        pytest.fail(f"REQUIRE_INTEROP=1 but {reason}")
    pytest.skip(f"Node interop tests need Node >= {MIN_NODE_MAJOR} and npm: {reason}")


@dataclass(frozen=True)
class NodeResult:
    """What a script printed (parsed), its exit status and its stderr."""

    returncode: int
    data: Any
    stderr: str

    @property
    def error(self) -> dict[str, Any]:
        """The ``{"error": ...}`` a failed script printed."""
        assert self.returncode != 0, f"the script succeeded: {self.data!r}"
        error: dict[str, Any] = self.data["error"]
        return error


def command_line(*args: str, **options: str | bool | None) -> list[str]:
    """``args``, then each option as ``--name=value`` (``_`` in a name
    becomes ``-``; ``True`` is a bare ``--name``; ``None`` and ``False`` are
    left out). ``=`` keeps a value that starts with ``-`` (a generated
    secret may) from being read as an option."""
    line = list(args)
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            line.append(flag)
        elif isinstance(value, str):
            line.append(f"{flag}={value}")
    return line


@dataclass(frozen=True)
class NodeInterop:
    """Runs ``node tests/interop/SCRIPT ARGS… --OPTION=VALUE…``."""

    node: str
    directory: Path = INTEROP_DIR

    def result(
        self,
        script: str,
        *args: str,
        env: Mapping[str, str] | None = None,
        timeout: float = SCRIPT_TIMEOUT,
        **options: str | bool | None,
    ) -> NodeResult:
        """Run ``script`` with ``args`` (positional: a step, a token) and
        ``options`` (see :func:`command_line`); its JSON and exit status,
        whatever they are."""
        completed = subprocess.run(
            [self.node, str(self.directory / script), *command_line(*args, **options)],
            cwd=self.directory,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        try:
            data = json.loads(completed.stdout)
        except ValueError:
            raise AssertionError(
                f"node {script} exited with {completed.returncode} without one "
                f"JSON document\n--- stdout ---\n{completed.stdout}\n"
                f"--- stderr ---\n{completed.stderr}"
            ) from None
        return NodeResult(completed.returncode, data, completed.stderr)

    def run(self, script: str, *args: str, **kwargs: Any) -> Any:
        """Like :meth:`result`, but return the JSON and fail the test if the
        script failed."""
        result = self.result(script, *args, **kwargs)
        assert result.returncode == 0, (
            f"node {script} exited with {result.returncode}: "
            f"{json.dumps(result.data, indent=2)}\n{result.stderr}"
        )
        return result.data


def _stamp() -> str:
    """What ``npm ci`` installs from: the lock file (and the Node version)."""
    digest = hashlib.sha256((INTEROP_DIR / "package-lock.json").read_bytes())
    return digest.hexdigest()


def _node_version(node: str) -> str:
    completed = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    return completed.stdout.strip()


def install_node() -> NodeInterop:
    """Check Node and npm, run ``npm ci`` if needed; skip (or fail) if impossible."""
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        unavailable(f"{'node' if node is None else 'npm'} not found on PATH")
    version = _node_version(node)
    try:
        major = int(version.lstrip("v").split(".")[0])
    except ValueError:
        unavailable(f"`node --version` printed {version!r}")
    if major < MIN_NODE_MAJOR:
        unavailable(f"node is {version}")
    # One ``npm ci`` at a time (several pytest processes may start together).
    with (INTEROP_DIR / ".npm-ci.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        wanted = _stamp()
        if not STAMP.exists() or STAMP.read_text() != wanted:
            completed = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=INTEROP_DIR,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=NPM_TIMEOUT,
                check=False,
            )
            if completed.returncode != 0:
                unavailable(
                    f"`npm ci` in {INTEROP_DIR} exited with "
                    f"{completed.returncode}:\n{completed.stdout}{completed.stderr}"
                )
            STAMP.write_text(wanted)
    return NodeInterop(node)


def oidc(
    node: NodeInterop,
    server: LiveServer,
    client: ClientCredentials,
    step: str,
    *,
    algorithm: str = "oauth2",
    **options: str,
) -> NodeResult:
    """``oidc.mjs STEP`` as the confidential ``client``, discovering
    ``server`` by its RFC 8414 metadata (``algorithm="oauth2"``) or its
    OpenID Connect configuration (``"oidc"``)."""
    assert client.client_secret is not None
    return node.result(
        "oidc.mjs",
        step,
        *command_line(**options),
        issuer=server.base_url,
        client_id=client.client_id,
        client_secret=client.client_secret,
        algorithm=algorithm,
    )


def succeeded(result: NodeResult) -> Any:
    """The JSON a script printed, once it exited 0."""
    assert result.returncode == 0, result.data
    return result.data
