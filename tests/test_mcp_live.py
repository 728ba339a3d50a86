"""The MCP case end to end (SPEC §12): the official ``mcp`` Python client,
given only the MCP server's URL, against ``python -m example_app.mcp_server``
whose authorization server is the example app under gunicorn — two real
processes, on SQLite and on PostgreSQL.

The client finds the authorization server from the 401 (RFC 9728),
reads its metadata (RFC 8414), registers itself (RFC 7591), sends the
user through the example app's login and consent pages (driven over HTTP
here) with PKCE and ``resource`` (RFC 8707), calls the tool, and after the
access token expires calls it again through a refresh that rotates the
refresh token.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
import pytest
import requests
from mcp.client.auth import OAuthClientProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata
from mcp_types import CallToolResult
from pydantic import AnyUrl

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
from .mcp_helpers import MemoryStorage, Person, mcp_server

#: Seconds an access token lives, so that the second call needs a refresh.
#: Long enough for the first call to end well before it: a token that
#: expires while a request is on its way gets a 401, and the SDK's client
#: answers any 401 with a new authorization (a new login), not a refresh.
ACCESS_TOKEN_LIFETIME = 5
MCP_CONFIG = {
    "FLASK_OAUTH2_DYNAMIC_REGISTRATION": "open",
    "FLASK_OAUTH2_ACCESS_TOKEN_VALIDITY_PERIOD": str(ACCESS_TOKEN_LIFETIME),
}
INITIALIZE: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "pytest", "version": "0"},
    },
}


def _whoami(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result
    content: dict[str, Any] | None = result.structured_content
    assert content is not None, result
    return content


async def _two_calls(
    url: str, storage: MemoryStorage, person: Person, auth_method: str | None
) -> tuple[dict[str, Any], dict[str, Any], int]:
    """Call ``whoami``, wait until the access token has expired, call it
    again; both answers and how many token responses the first call took."""
    provider = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="pytest MCP client",
            redirect_uris=[AnyUrl(f"http://127.0.0.1:{free_port()}/callback")],
            token_endpoint_auth_method=auth_method,  # type: ignore[arg-type]
        ),
        storage=storage,
        redirect_handler=person.redirect_handler,
        callback_handler=person.callback_handler,
    )
    async with (
        httpx2.AsyncClient(auth=provider, timeout=REQUEST_TIMEOUT) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        first = _whoami(await session.call_tool("whoami", {}))
        responses = len(storage.history)
        # The client refreshes before a request once its access token's
        # expires_in has passed (by its own clock, which starts when the
        # token response arrives, after the server's).
        expiry = provider.context.token_expiry_time
        assert expiry is not None
        await anyio.sleep(max(0.0, expiry - time.time()) + 1)
        second = _whoami(await session.call_tool("whoami", {}))
    return first, second, responses


def _cli(server: LiveServer, database_url: str, *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "example_app", "oauth2", *args],
        cwd=REPO_ROOT,
        env=example_environment(server, database_url),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize(
    "auth_method",
    [pytest.param("none", id="public"), pytest.param(None, id="confidential")],
)
def test_mcp_client_logs_in_calls_the_tool_and_refreshes(
    tmp_path: Path, database_url: str, auth_method: str | None
) -> None:
    with (
        live_server(tmp_path, database_url, config=MCP_CONFIG) as issuer,
        mcp_server(tmp_path, issuer, database_url) as mcp,
    ):
        storage, person = MemoryStorage(), Person()
        first, second, first_responses = anyio.run(
            _two_calls, mcp.url, storage, person, auth_method
        )

        # One login: discovery, registration, code + PKCE + resource.
        assert len(person.authorization_urls) == 1, person.authorization_urls
        authorization = person.authorization_urls[0]
        assert authorization.startswith(issuer.base_url + "/oauth2/authorize?")
        query = parse_qs(urlsplit(authorization).query)
        assert query["resource"] == [mcp.url]
        assert query["code_challenge_method"] == ["S256"]
        client = storage.client_info
        assert client is not None and query["client_id"] == [client.client_id]
        # RFC 7591 §2: omitted means client_secret_basic (a confidential client).
        if auth_method == "none":
            assert client.token_endpoint_auth_method == "none"
            assert client.client_secret is None
        else:
            assert client.token_endpoint_auth_method == "client_secret_basic"
            assert client.client_secret

        for answer in (first, second):
            assert answer["user"] == DEMO_USERNAME
            assert answer["client_id"] == client.client_id
            assert answer["audience"] == mcp.url
            assert sorted(answer["scopes"]) == ["PRODUCTION", "SANDBOX"]

        # The second call went through a refresh, not a new login, and the
        # refresh rotated the refresh token.
        assert len(storage.history) > first_responses
        before, after = storage.history[first_responses - 1], storage.history[-1]
        assert after.access_token != before.access_token
        assert after.refresh_token and after.refresh_token != before.refresh_token

        grants = _cli(issuer, database_url, "grants", "list", "--json")
        ours = [g for g in grants if g["client_id"] == client.client_id]
        assert len(ours) == 1, grants
        assert ours[0]["refresh_count"] >= 1
        history = _cli(
            issuer, database_url, "grants", "show", ours[0]["grant_id"], "--json"
        )
        statuses = [token["status"] for token in history["tokens"]]
        assert statuses[-1] == "live" and set(statuses[:-1]) == {"rotated"}, history
        clients = _cli(
            issuer, database_url, "clients", "show", client.client_id, "--json"
        )
        assert clients["registered_by"] == "dynamic"
        assert clients["public"] is (auth_method == "none")


def _password_token(issuer: LiveServer, resource: str | None) -> str:
    data = {
        "grant_type": "password",
        "username": DEMO_USERNAME,
        "password": DEMO_PASSWORD,
        "scope": "PRODUCTION",
    }
    if resource is not None:
        data["resource"] = resource
    response = issuer.token(data)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def _initialize(url: str, token: str) -> requests.Response:
    return requests.post(
        url,
        json=INITIALIZE,
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/json, text/event-stream",
        },
        timeout=REQUEST_TIMEOUT,
    )


def test_mcp_server_refuses_a_token_for_another_resource(
    tmp_path: Path, database_url: str
) -> None:
    """The MCP server's own audience check: its introspection client here
    also serves another resource (so introspection answers ``active`` for
    that resource's tokens too), passed as ``--client-id``/``--client-secret``
    as a deployed MCP server gets it."""
    config = {"FLASK_OAUTH2_ACCESS_TOKEN_VALIDITY_PERIOD": "600"}
    port = free_port()
    url, neighbour = f"http://127.0.0.1:{port}/mcp", "http://127.0.0.1:9/mcp"
    with live_server(tmp_path, database_url, config=config) as issuer:
        client = _cli(
            issuer,
            database_url,
            "create-client",
            "--name",
            "MCP server and its neighbour",
            "--grant-type",
            "client_credentials",
            "--serves-resource",
            url,
            "--serves-resource",
            neighbour,
            "--json",
        )
        credentials = [
            *("--client-id", client["client_id"]),
            *("--client-secret", client["client_secret"]),
        ]
        with mcp_server(tmp_path, issuer, database_url, *credentials, port=port) as mcp:
            assert mcp.url == url
            assert client["client_id"] in mcp.stdout_path.read_text()
            _check_refusals(issuer, mcp.url, neighbour)


def _check_refusals(issuer: LiveServer, url: str, neighbour: str) -> None:
    metadata_url = url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
    # Without a token: where to find the authorization server.
    bare = requests.post(url, json=INITIALIZE, timeout=REQUEST_TIMEOUT)
    assert bare.status_code == 401
    challenge = bare.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'resource_metadata="{metadata_url}"' in challenge
    metadata = requests.get(metadata_url, timeout=REQUEST_TIMEOUT).json()
    assert metadata["resource"] == url
    assert metadata["authorization_servers"] == [issuer.base_url]

    # A token of the same issuer and user, for this resource: accepted.
    ours = _initialize(url, _password_token(issuer, url))
    assert ours.status_code == 200, ours.text

    # For another resource, served by the same introspection client or
    # not, or for none (audience: the issuer): refused.
    for resource in (neighbour, "https://other.example/mcp", None):
        token = _password_token(issuer, resource)
        refused = _initialize(url, token)
        assert refused.status_code == 401, (resource, refused.text)
        assert refused.json()["error"] == "invalid_token"
        assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
        assert metadata_url in refused.headers["WWW-Authenticate"]
        # The issuer still holds it as a live token (nothing was revoked).
        assert issuer.me(token).status_code == 200
