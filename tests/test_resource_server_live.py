"""``ProtectedResource`` in a separate process from the authorization server
(SPEC §12): the example app under gunicorn issues tokens with ``resource``;
another app, under its own gunicorn with its own database, accepts the ones
meant for it — opaque ones through introspection with its own client
credentials, JWTs through a JWKS — and answers the rest with RFC 9728
challenges."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
import requests

from .conftest import require_postgres, reset_postgres
from .live import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    REPO_ROOT,
    REQUEST_TIMEOUT,
    LiveServer,
    example_environment,
    free_port,
    live_server,
)
from .resource_helpers import issuer_server


def _start(port: int, env: dict[str, str], out: Any, err: Any) -> Any:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "tests.resource_app:create_app()",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--no-control-socket",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        stdout=out,
        stderr=err,
        start_new_session=True,
    )


@contextmanager
def resource_server(tmp_path: Path, env: dict[str, str]) -> Iterator[str]:
    """Run tests/resource_app.py under gunicorn; yield its base URL."""
    port = int(env["RS_PORT"])
    base = f"http://127.0.0.1:{port}"
    err_path = tmp_path / "rs.err"
    with (tmp_path / "rs.out").open("wb") as out, err_path.open("wb") as err:
        process = _start(port, env, out, err)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, err_path.read_text()
            with suppress(requests.RequestException):
                if requests.get(base + "/api/visits", timeout=2).status_code == 401:
                    break
            assert time.monotonic() < deadline, err_path.read_text()
            time.sleep(0.1)
        yield base
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        process.wait(timeout=10)
    assert "Traceback" not in err_path.read_text(), err_path.read_text()


def flask_oauth2(server: LiveServer, database_url: str, *args: str) -> Any:
    """``flask oauth2 ARGS… --json`` on the authorization server's database."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "example_app",
            "oauth2",
            *args,
            "--json",
        ],
        cwd=REPO_ROOT,
        env=example_environment(server, database_url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def password_token(
    server: LiveServer, resource: str, scope: str = "PRODUCTION SANDBOX"
) -> dict[str, Any]:
    response = server.token(
        {
            "grant_type": "password",
            "username": DEMO_USERNAME,
            "password": DEMO_PASSWORD,
            "scope": scope,
            "resource": resource,
        }
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def get(url: str, token: str | None = None) -> requests.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return requests.get(url, headers=headers, timeout=REQUEST_TIMEOUT)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_another_app_accepts_only_tokens_meant_for_it(
    tmp_path: Path, kind: str
) -> None:
    if kind == "sqlite":
        as_url = f"sqlite:///{tmp_path / 'as.db'}"
    else:
        as_url = require_postgres()
        reset_postgres(as_url)
    rs_port = free_port()
    resource = f"http://127.0.0.1:{rs_port}/api"
    with live_server(tmp_path, as_url) as server, issuer_server() as signer:
        rs_client = flask_oauth2(
            server,
            as_url,
            "create-client",
            "--name",
            "visits API",
            "--grant-type",
            "client_credentials",
            "--serves-resource",
            resource,
        )
        env = {
            "RS_PORT": str(rs_port),
            "RS_RESOURCE": resource,
            "RS_ISSUER": server.base_url,
            "RS_DATABASE_URL": f"sqlite:///{tmp_path / 'rs.db'}",
            "RS_CLIENT_ID": rs_client["client_id"],
            "RS_CLIENT_SECRET": rs_client["client_secret"],
            "RS_JWKS_URI": signer.url + "/jwks",
        }
        with resource_server(tmp_path, env) as rs:
            # RFC 9728: the plain and the path-suffixed metadata.
            for path in (
                "/.well-known/oauth-protected-resource",
                "/.well-known/oauth-protected-resource/api",
            ):
                document = requests.get(rs + path, timeout=REQUEST_TIMEOUT).json()
                assert document["resource"] == resource
                assert document["authorization_servers"] == [server.base_url]
                assert document["scopes_supported"] == ["PRODUCTION", "SANDBOX"]
            challenge = get(rs + "/api/visits")
            assert challenge.status_code == 401
            assert challenge.headers["WWW-Authenticate"] == (
                f'Bearer resource_metadata="{rs}/.well-known/oauth-protected-resource/api"'
            )

            # An opaque token for this resource: introspected, accepted.
            mine = password_token(server, resource)
            answer = get(rs + "/api/visits", mine["access_token"])
            assert answer.status_code == 200, answer.text
            assert answer.json()["scope"] == "PRODUCTION SANDBOX"
            assert get(rs + "/api/visits", mine["access_token"]).json()["visits"] == 2

            # A token for another resource, or for none: refused.
            for other in (
                password_token(server, "https://other.example.com/")["access_token"],
                server.password_grant()["access_token"],
                "not-a-token",
            ):
                refused = get(rs + "/api/visits", other)
                assert refused.status_code == 401
                assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
                assert "resource_metadata=" in refused.headers["WWW-Authenticate"]

            # A scope it lacks: 403 insufficient_scope, naming the scope.
            sandbox = password_token(server, resource, scope="SANDBOX")
            forbidden = get(rs + "/api/production", sandbox["access_token"])
            assert forbidden.status_code == 403
            assert 'error="insufficient_scope"' in forbidden.headers["WWW-Authenticate"]
            assert 'scope="PRODUCTION"' in forbidden.headers["WWW-Authenticate"]

            # Revoked at the issuer before its first use here: refused (an
            # answer once cached is reused for up to 10 s).
            revoked = password_token(server, resource)
            requests.post(
                server.base_url + "/oauth2/revoke",
                data={"token": revoked["access_token"]},
                auth=server.credentials,
                timeout=REQUEST_TIMEOUT,
            ).raise_for_status()
            assert get(rs + "/api/visits", revoked["access_token"]).status_code == 401

            # A JWT access token signed with the issuer's published key.
            key = signer.add_key("k1")
            jwt = signer.sign(key, "k1", iss=server.base_url, aud=resource)
            assert get(rs + "/api/visits", jwt).status_code == 200
            elsewhere = signer.sign(
                key, "k1", iss=server.base_url, aud="https://x.example/"
            )
            assert get(rs + "/api/visits", elsewhere).status_code == 401
