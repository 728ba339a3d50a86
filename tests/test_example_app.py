"""The example app in-process (pytest-flask's ``client`` over our ``app``);
tests/test_live_server.py runs it under gunicorn."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, request, session
from flask.sessions import NullSession
from flask.testing import FlaskClient

from example_app.database import database_url
from example_app.models import User, db
from flask_refreshgrant import RefreshGrant
from flask_refreshgrant.testing import MintedTokens

from .conftest import basic_auth


@pytest.fixture
def make_app(make_example_app: Callable[..., Flask]) -> Callable[..., Flask]:
    """``create_app`` with the given config (a dict, as the factory takes it)."""

    def make(config: dict[str, Any] | None = None) -> Flask:
        return make_example_app(**(config or {}))

    return make


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app({"TESTING": True})


def demo_auth(app: Flask) -> dict[str, str]:
    creds = json.loads((Path(app.instance_path) / "demo-client.json").read_text())
    return {"Authorization": basic_auth(creds["client_id"], creds["client_secret"])}


def test_first_start_seeds_and_prints_curl_commands(
    example_instance: Path,
    make_app: Callable[..., Flask],
    capsys: pytest.CaptureFixture[str],
) -> None:
    make_app()
    banner = capsys.readouterr().out
    assert "demo user:     demo / demo" in banner
    assert "grant_type=refresh_token&refresh_token=" in banner
    assert "scope=PRODUCTION" in banner
    assert "Authorization: Basic " in banner
    creds_file = example_instance / "demo-client.json"
    assert stat.S_IMODE(creds_file.stat().st_mode) == 0o600
    creds = json.loads(creds_file.read_text())
    assert creds["client_id"] in banner and creds["client_secret"] in banner

    # A second start finds everything in place: nothing seeded, nothing printed.
    app = make_app()
    assert capsys.readouterr().out == ""
    assert json.loads(creds_file.read_text()) == creds
    with app.app_context():
        assert db.session.query(User).count() == 1


def test_password_then_refresh_with_production_scope(
    app: Flask, client: FlaskClient
) -> None:
    auth = demo_auth(app)
    first = client.post(
        "/oauth2/token",
        data={
            "grant_type": "password",
            "username": "demo",
            "password": "demo",
            "scope": "PRODUCTION SANDBOX",
        },
        headers=auth,
    )
    assert first.status_code == 200
    assert first.json is not None
    refreshed = client.post(
        "/oauth2/token",
        data=f"grant_type=refresh_token&refresh_token={first.json['refresh_token']}"
        "&scope=PRODUCTION",
        content_type="application/x-www-form-urlencoded",
        headers=auth,
    )
    assert refreshed.status_code == 200
    assert refreshed.json is not None
    assert refreshed.json["scope"] == "PRODUCTION"
    me = client.get(
        "/api/me", headers={"Authorization": "Bearer " + refreshed.json["access_token"]}
    )
    assert me.status_code == 200
    assert me.json is not None
    assert me.json["user"] == "demo"
    assert me.json["scope"] == "PRODUCTION"
    assert client.get("/api/me").status_code == 401


def test_config_from_prefixed_environment(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLASK_OAUTH2_REFRESH_TOKEN_VALIDITY_PERIOD", "60")
    monkeypatch.setenv("FLASK_OAUTH2_RENEW_REFRESH_TOKEN_FOR_REFRESH_GRANT", "false")
    app = make_app({"EXAMPLE_QUIET": True})
    policy = RefreshGrant.state(app).settings.policy
    assert policy.refresh_token_validity_period == 60
    assert policy.renew_refresh_token is False


def test_create_user_command(app: Flask, client: FlaskClient) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-user", "bob", "--password", "builder"])
    assert result.exit_code == 0, result.output
    again = runner.invoke(args=["create-user", "bob", "--password", "x"])
    assert again.exit_code != 0
    response = client.post(
        "/oauth2/token",
        data={"grant_type": "password", "username": "bob", "password": "builder"},
        headers=demo_auth(app),
    )
    assert response.status_code == 200


def test_extension_and_demo_commands_are_there(app: Flask) -> None:
    runner = app.test_cli_runner()
    demo = runner.invoke(args=["demo"])
    assert demo.exit_code == 0
    assert "curl" in demo.output
    created = runner.invoke(
        args=[
            "oauth2",
            "create-client",
            "--name",
            "x",
            "--grant-type",
            "password",
            "--json",
        ]
    )
    assert created.exit_code == 0, created.output
    assert set(json.loads(created.output)) == {"client_id", "client_secret"}


def test_database_url_normalisation(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert database_url(tmp_path) == f"sqlite:///{tmp_path / 'example.db'}"
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/db")
    assert database_url(tmp_path) == "postgresql+psycopg://u@h/db"
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    assert database_url(tmp_path) == "postgresql+psycopg://u@h/db"


def test_api_me_with_tokens_from_the_testing_plugin(
    app: Flask, client: FlaskClient, oauth_tokens: Callable[..., MintedTokens]
) -> None:
    """SPEC §7.4: the app's own protected route, tested without a flow."""
    with app.app_context():
        demo = db.session.query(User).filter_by(username="demo").one()
    tokens = oauth_tokens(demo, scope="PRODUCTION")
    response = client.get("/api/me", headers=tokens.headers)
    assert response.status_code == 200
    assert response.json == {
        "user": "demo",
        "user_id": str(demo.id),
        "client_id": tokens.client.client_id,
        "scope": "PRODUCTION",
    }


def test_client_endpoints_open_no_cookie_session(
    app: Flask, client: FlaskClient
) -> None:
    """The token, revocation and introspection endpoints never read the
    session: the example app does not open one there (example_app/sessions.py);
    its pages still get the cookie session."""
    seen: dict[str, bool] = {}

    @app.before_request
    def record_session_kind() -> None:
        seen[request.path] = isinstance(session, NullSession)

    auth = demo_auth(app)
    form = {"grant_type": "password", "username": "demo", "password": "demo"}
    issued = client.post("/oauth2/token", data=form, headers=auth)
    assert issued.status_code == 200
    assert issued.json is not None
    token = {"token": issued.json["refresh_token"]}
    assert (
        client.post("/oauth2/introspect", data=token, headers=auth).status_code == 200
    )
    assert client.post("/oauth2/revoke", data=token, headers=auth).status_code == 200
    client.get("/login")
    assert seen == {
        "/oauth2/token": True,
        "/oauth2/introspect": True,
        "/oauth2/revoke": True,
        "/login": False,
    }
    assert "Set-Cookie" not in issued.headers
