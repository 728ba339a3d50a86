"""``MCPTokenVerifier``, TokenVerifier as the ``mcp`` SDK's token verifier,
with JWT access tokens (RFC 9068) that the test signs and a JWKS served over
real HTTP: in-process, and in ``python -m example_app.mcp_server --jwt-only``
called by the SDK's own client."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import requests
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from flask_refreshgrant.resource_server import TokenVerifier
from flask_refreshgrant.resource_server.mcp_sdk import MCPTokenVerifier

from .live import REQUEST_TIMEOUT, free_port
from .mcp_helpers import mcp_server
from .resource_helpers import Issuer, issuer_server

MCP = "http://127.0.0.1:8001/mcp"


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    with issuer_server() as running:
        yield running


def test_a_token_for_this_server_gives_the_sdk_its_access_token(
    issuer: Issuer,
) -> None:
    key = issuer.add_key("k1")
    adapter = MCPTokenVerifier(TokenVerifier(issuer.url, MCP))
    token = issuer.sign(key, "k1", aud=["https://x.example", MCP], scope="a b")
    access = anyio.run(adapter.verify_token, token)
    assert access is not None
    assert access.token == token
    assert access.client_id == "client-1"
    assert access.subject == "42"
    assert access.scopes == ["a", "b"]
    assert access.resource == MCP  # what validate_token_resource compares
    assert access.claims is not None and access.claims["iss"] == issuer.url
    assert isinstance(access.expires_at, int)


@pytest.mark.parametrize(
    "change",
    [
        {"aud": "http://127.0.0.1:8002/mcp"},
        {"aud": None},
        {"exp": 1_000_000_000},
        {"iss": "https://evil.example.com"},
    ],
)
def test_a_refused_token_is_none(issuer: Issuer, change: dict[str, Any]) -> None:
    key = issuer.add_key("k1")
    adapter = MCPTokenVerifier(TokenVerifier(issuer.url, MCP))
    assert (
        anyio.run(
            adapter.verify_token, issuer.sign(key, "k1", **{"aud": MCP, **change})
        )
        is None
    )


def test_an_unreachable_issuer_is_none_and_a_warning(
    issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    token = issuer.sign(issuer.add_key("k1"), "k1", aud=MCP)
    adapter = MCPTokenVerifier(
        TokenVerifier(f"http://127.0.0.1:{free_port()}", MCP, timeout=2)
    )
    with caplog.at_level(logging.WARNING):
        assert anyio.run(adapter.verify_token, token) is None
    assert "token not checked" in caplog.text


async def _whoami(url: str, token: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=REQUEST_TIMEOUT) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        result = await session.call_tool("whoami", {})
    content: dict[str, Any] | None = result.structured_content
    assert not result.is_error and content is not None, result
    return content


def test_the_example_mcp_server_with_jwt_only(tmp_path: Path, issuer: Issuer) -> None:
    """``--jwt-only``: no introspection client, JWTs by the issuer's JWKS
    (an issuer set to ``OAUTH2_ACCESS_TOKEN_FORMAT = "jwt"``)."""
    key = issuer.add_key("k1")
    with mcp_server(tmp_path, issuer.url, None, "--jwt-only", "--scope", "read") as mcp:
        stderr = mcp.stderr_path.read_text()
        # The stand-in issuer offers no registration: the server says so.
        assert "offers no dynamic client registration" in stderr
        assert "JWT only" in mcp.stdout_path.read_text()

        answer = anyio.run(_whoami, mcp.url, issuer.sign(key, "k1", aud=mcp.url))
        assert answer["user_id"] == "42"
        assert answer["client_id"] == "client-1"
        assert answer["scopes"] == ["read", "write"]
        assert answer["audience"] == mcp.url

        def initialize(token: str) -> requests.Response:
            return requests.post(
                mcp.url,
                json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                headers={
                    "Authorization": f"Bearer {token}",
                    "Accept": "application/json, text/event-stream",
                },
                timeout=REQUEST_TIMEOUT,
            )

        # Another audience: 401 with the metadata's address.
        other = initialize(issuer.sign(key, "k1", aud="http://127.0.0.1:9/mcp"))
        assert other.status_code == 401
        assert "resource_metadata=" in other.headers["WWW-Authenticate"]
        # Without the required scope: 403 insufficient_scope.
        narrow = initialize(issuer.sign(key, "k1", aud=mcp.url, scope="write"))
        assert narrow.status_code == 403
        assert 'error="insufficient_scope"' in narrow.headers["WWW-Authenticate"]
        # An opaque token cannot be checked without an introspection client.
        assert initialize("opaque-token-value").status_code == 401
        # The announced scopes are the required ones.
        metadata_url = mcp.url.replace(
            "/mcp", "/.well-known/oauth-protected-resource/mcp"
        )
        metadata = requests.get(metadata_url, timeout=REQUEST_TIMEOUT).json()
        assert metadata["scopes_supported"] == ["read"]
        assert metadata["authorization_servers"] == [issuer.url]
