"""Dynamic client registration (RFC 7591, SPEC §12): off by default,
``"open"`` and ``"token"``, the metadata rules, the rate limit, purge."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
import sqlalchemy as sa

from flask_refreshgrant import RefreshGrant

from .conftest import (
    Harness,
    basic_auth,
    oauth2_cli,
    oauth2_json,
    pkce_pair,
    redirect_query,
)
from .live import live_server, together

MCP_CLIENT = {
    "client_name": "An MCP client",
    "redirect_uris": ["http://127.0.0.1:33418/callback"],
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "token_endpoint_auth_method": "none",
    "scope": "PRODUCTION",
}


def register(
    h: Harness, body: Any, *, token: str | None = None, address: str = "127.0.0.1"
) -> Any:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return h.client.post(
        "/oauth2/register",
        data=data,
        content_type="application/json",
        headers=headers,
        environ_base={"REMOTE_ADDR": address},
    )


def client_count(h: Harness) -> int:
    with h.app.app_context():
        model = RefreshGrant.state().models.client
        count = h.db.session.scalar(sa.select(sa.func.count()).select_from(model))
        return int(count or 0)


@pytest.fixture
def open_registration(make_harness: Callable[..., Harness]) -> Harness:
    h = make_harness(
        OAUTH2_DYNAMIC_REGISTRATION="open",
        OAUTH2_SCOPES_SUPPORTED=["PRODUCTION", "SANDBOX"],
    )
    h.create_user()
    return h


def test_off_by_default(harness: Harness) -> None:
    response = register(harness, MCP_CLIENT)
    assert response.status_code == 404
    assert response.json["error"] == "invalid_request"
    metadata = harness.client.get("/.well-known/oauth-authorization-server").json
    assert metadata is not None and "registration_endpoint" not in metadata
    assert client_count(harness) == 0


def test_a_public_client_registers_and_uses_any_loopback_port(
    open_registration: Harness,
) -> None:
    h = open_registration
    metadata: Any = h.client.get("/.well-known/oauth-authorization-server").json
    assert metadata["registration_endpoint"] == "http://localhost/oauth2/register"
    response = register(h, MCP_CLIENT)
    assert response.status_code == 201, response.json
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["client_id_issued_at"] == int(h.clock.now)
    assert "client_secret" not in body
    assert {k: body[k] for k in MCP_CLIENT} == MCP_CLIENT
    client_id = body["client_id"]

    # RFC 8252 §7.3: the client listens on another port this time.
    redirect = "http://127.0.0.1:50123/callback"
    verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect,
        "scope": "PRODUCTION",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "s",
    }
    approved = h.client.post(
        "/oauth2/authorize?" + urlencode(query),
        data={"decision": "approve", "user_id": "1"},
    )
    assert approved.headers["Location"].startswith(redirect + "?")
    code = redirect_query(approved)["code"]
    tokens = h.client.post(
        "/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "code_verifier": verifier,
            "client_id": client_id,
        },
    ).json
    assert tokens is not None and "refresh_token" in tokens, tokens
    renewed: Any = h.client.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": client_id,
        },
    ).json
    assert renewed["refresh_token"] != tokens["refresh_token"]  # public: rotates

    (listed,) = oauth2_json(h, "clients", "list")
    assert listed["client_id"] == client_id
    assert listed["registered_by"] == "dynamic"
    assert listed["public"] is True


def test_a_confidential_client_gets_a_secret(open_registration: Harness) -> None:
    h = open_registration
    body = {"redirect_uris": ["https://app.example.com/cb"]}
    response = register(h, body)
    assert response.status_code == 201, response.json
    created = response.json
    # RFC 7591 §2: an omitted method means client_secret_basic.
    assert created["token_endpoint_auth_method"] == "client_secret_basic"
    assert created["grant_types"] == ["authorization_code"]
    assert created["client_secret_expires_at"] == 0
    auth = basic_auth(created["client_id"], created["client_secret"])
    introspected = h.client.post(
        "/oauth2/introspect", data={"token": "x"}, headers={"Authorization": auth}
    )
    assert introspected.status_code == 200
    assert introspected.json == {"active": False}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            {**MCP_CLIENT, "redirect_uris": ["javascript:alert(1)"]},
            "invalid_redirect_uri",
        ),
        (
            {**MCP_CLIENT, "redirect_uris": ["http://evil.example/cb"]},
            "invalid_redirect_uri",
        ),
        (
            {**MCP_CLIENT, "redirect_uris": ["https://a.example/cb#x"]},
            "invalid_redirect_uri",
        ),
        ({**MCP_CLIENT, "redirect_uris": []}, "invalid_redirect_uri"),
        (
            {**MCP_CLIENT, "redirect_uris": "https://a.example/cb"},
            "invalid_client_metadata",
        ),
        ({**MCP_CLIENT, "grant_types": ["password"]}, "invalid_client_metadata"),
        (
            {**MCP_CLIENT, "grant_types": ["client_credentials"]},
            "invalid_client_metadata",
        ),
        ({**MCP_CLIENT, "response_types": ["token"]}, "invalid_client_metadata"),
        (
            {**MCP_CLIENT, "token_endpoint_auth_method": "private_key_jwt"},
            "invalid_client_metadata",
        ),
        ({**MCP_CLIENT, "scope": "ADMIN"}, "invalid_client_metadata"),
        ({**MCP_CLIENT, "client_name": "x" * 201}, "invalid_client_metadata"),
        (["not", "an", "object"], "invalid_client_metadata"),
        (b"{not json", "invalid_client_metadata"),
        (b"\xff\xfe", "invalid_client_metadata"),
        ("[" * 33 + "]" * 33, "invalid_client_metadata"),
        ({**MCP_CLIENT, "padding": "x" * 9000}, "invalid_client_metadata"),
    ],
)
def test_bad_metadata_is_refused_and_stores_nothing(
    make_harness: Callable[..., Harness], body: Any, error: str
) -> None:
    h = make_harness(
        OAUTH2_DYNAMIC_REGISTRATION="open",
        OAUTH2_SCOPES_SUPPORTED=["PRODUCTION"],
        OAUTH2_REGISTRATION_RATE_LIMIT=0,
    )
    response = register(h, body)
    assert response.status_code == 400
    assert response.json["error"] == error
    assert response.json["error_description"]
    assert client_count(h) == 0


@pytest.mark.parametrize(
    ("member", "value", "error"),
    [
        ("redirect_uris", ["https://a.example/\ud800"], "invalid_redirect_uri"),
        ("redirect_uris", ["https://a.example/\x00"], "invalid_redirect_uri"),
        ("client_name", "\ud800", "invalid_client_metadata"),
        ("client_name", "a\x00b", "invalid_client_metadata"),
        ("scope", "\ud800", "invalid_client_metadata"),
        ("scope", "a\x00b", "invalid_client_metadata"),
        ("scope", "a\tb", "invalid_client_metadata"),
        ("scope", 'say"hi', "invalid_client_metadata"),
    ],
)
def test_text_a_database_cannot_store_is_refused(
    make_harness: Callable[..., Harness], member: str, value: Any, error: str
) -> None:
    """JSON's ``\\ud800`` is a lone surrogate once parsed, and PostgreSQL
    refuses NUL in text: both were a 500 when the client was stored. With no
    OAUTH2_SCOPES_SUPPORTED any scope goes, but only RFC 6749 §3.3's
    characters."""
    h = make_harness(
        OAUTH2_DYNAMIC_REGISTRATION="open", OAUTH2_REGISTRATION_RATE_LIMIT=0
    )
    response = register(h, {**MCP_CLIENT, member: value})
    assert response.status_code == 400, response.json
    assert response.json["error"] == error
    assert client_count(h) == 0


def test_not_json_and_not_post(open_registration: Harness) -> None:
    h = open_registration
    form: Any = h.client.post("/oauth2/register", data={"redirect_uris": "x"})
    assert form.status_code == 400
    assert form.json["error"] == "invalid_client_metadata"
    for method in ("GET", "PUT", "OPTIONS"):
        refused: Any = h.client.open("/oauth2/register", method=method)
        assert refused.status_code == 405, method
        assert refused.headers["Allow"] == "POST"
        assert refused.json["error"] == "invalid_request"


def test_token_mode_needs_an_initial_access_token(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(OAUTH2_DYNAMIC_REGISTRATION="token")
    missing = register(h, MCP_CLIENT)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    wrong = register(h, MCP_CLIENT, token="guess")
    assert wrong.status_code == 401
    assert wrong.json["error"] == "invalid_token"

    created = oauth2_json(h, "registration-token", "create", "--uses", "1")
    assert set(created) == {"token", "expires_at", "uses"}
    assert created["uses"] == 1 and created["expires_at"] is None
    with h.app.app_context():
        stored = [
            str(v)
            for row in h.db.session.execute(
                sa.text("SELECT * FROM oauth2_registration_token")
            )
            for v in row
        ]
    assert created["token"] not in stored  # a digest only

    # Bad metadata does not use the token up.
    bad = register(
        h, {**MCP_CLIENT, "grant_types": ["password"]}, token=created["token"]
    )
    assert bad.status_code == 400
    assert register(h, MCP_CLIENT, token=created["token"]).status_code == 201
    used_up = register(h, MCP_CLIENT, token=created["token"])
    assert used_up.status_code == 401
    assert used_up.json["error"] == "invalid_token"
    assert client_count(h) == 1


def test_an_initial_access_token_expires(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(OAUTH2_DYNAMIC_REGISTRATION="token")
    created = oauth2_json(h, "registration-token", "create", "--expires-in", "60")
    assert created["expires_at"] == int(h.clock.now) + 60
    assert register(h, MCP_CLIENT, token=created["token"]).status_code == 201
    h.clock.advance(60)
    assert register(h, MCP_CLIENT, token=created["token"]).status_code == 401
    refused = oauth2_cli(h, "registration-token", "create", "--expires-in", "315360001")
    assert refused.exit_code == 2


def test_rate_limit_per_address(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(
        OAUTH2_DYNAMIC_REGISTRATION="open", OAUTH2_REGISTRATION_RATE_LIMIT=3
    )
    for _ in range(3):
        assert register(h, MCP_CLIENT).status_code == 201
    h.clock.advance(600)
    limited = register(h, MCP_CLIENT)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "3000"
    assert limited.json["error"] == "invalid_request"
    assert register(h, MCP_CLIENT, address="10.0.0.2").status_code == 201
    h.clock.advance(3000)
    assert register(h, MCP_CLIENT).status_code == 201
    assert client_count(h) == 5


def test_purge_deletes_dynamic_clients_that_never_obtained_a_token(
    open_registration: Harness,
) -> None:
    h = open_registration
    unused = register(h, {"redirect_uris": ["https://a.example/cb"]}).json
    used = register(h, {"redirect_uris": ["https://b.example/cb"]}).json
    operator = h.create_client()
    auth = basic_auth(used["client_id"], used["client_secret"])
    with h.app.app_context():
        h.oauth.update_client(used["client_id"], grant_types=["client_credentials"])
    issued = h.client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": auth},
    )
    assert issued.status_code == 200, issued.json
    h.clock.advance(86399)
    assert "deleted 0 unused dynamic clients" in oauth2_cli(h, "purge").output
    h.clock.advance(1)
    # The used client's access token has expired and goes in this purge too;
    # the client stays, now and later.
    assert "deleted 1 unused dynamic clients" in oauth2_cli(h, "purge").output
    h.clock.advance(86400)
    assert "deleted 0 unused dynamic clients" in oauth2_cli(h, "purge").output
    listed = {c["client_id"] for c in oauth2_json(h, "clients", "list")}
    assert listed == {used["client_id"], operator.client_id}
    assert unused["client_id"] not in listed


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_rate_limit_holds_under_concurrent_requests_to_two_workers(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    """Twelve registrations at once from one address to two gunicorn worker
    processes: exactly the limit gets through."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'live.db'}"
    else:
        from .conftest import require_postgres, reset_postgres

        url = require_postgres()
        reset_postgres(url)
    config = {
        "FLASK_OAUTH2_DYNAMIC_REGISTRATION": "open",
        "FLASK_OAUTH2_REGISTRATION_RATE_LIMIT": "5",
    }
    with live_server(tmp_path, url, config=config) as server:

        def send(session: requests.Session, _: int) -> requests.Response:
            return session.post(
                server.base_url + "/oauth2/register", json=MCP_CLIENT, timeout=30
            )

        responses = together(12, send)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 5 + [429] * 7, [r.text for r in responses]
