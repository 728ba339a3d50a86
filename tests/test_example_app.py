"""The example app in-process (pytest-flask's ``client`` over our ``app``);
tests/test_live_server.py runs it under gunicorn."""

from __future__ import annotations

import json
import shlex
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, request, session
from flask.sessions import NullSession
from flask.testing import FlaskClient

from example_app.database import database_url
from example_app.demo import banner, demo_credentials
from example_app.models import DemoCredentials, User, db, oauth
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
    printed = capsys.readouterr()
    # Not a server's start (no gunicorn, no `flask run`): stderr, so that a
    # command's stdout is only its own output.
    assert printed.out == ""
    banner = printed.err
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
    assert capsys.readouterr() == ("", "")
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


def test_starts_with_other_supported_scopes(make_app: Callable[..., Flask]) -> None:
    """``FLASK_OAUTH2_SCOPES_SUPPORTED='["read", "write"]'`` used to stop the
    app: the demo client's scopes join the list instead."""
    app = make_app({"TESTING": True, "OAUTH2_SCOPES_SUPPORTED": ["read", "write"]})
    assert app.config["OAUTH2_SCOPES_SUPPORTED"] == [
        "read",
        "write",
        "PRODUCTION",
        "SANDBOX",
    ]
    response = app.test_client().post(
        "/oauth2/token",
        data={
            "grant_type": "password",
            "username": "demo",
            "password": "demo",
            "scope": "PRODUCTION",
        },
        headers=demo_auth(app),
    )
    assert response.status_code == 200, response.json


def test_a_space_separated_scope_list_gets_the_demo_scopes_too(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app({"TESTING": True, "OAUTH2_SCOPES_SUPPORTED": "SANDBOX extra"})
    assert app.config["OAUTH2_SCOPES_SUPPORTED"] == ["SANDBOX", "extra", "PRODUCTION"]


def test_the_banner_calls_the_dpop_client_with_this_python(app: Flask) -> None:
    """``python -m example_app.dpop_client`` failed in a shell without the
    virtualenv: the banner names the interpreter that runs the app."""
    with app.app_context():
        text = banner(app)
    (line,) = [line for line in text.splitlines() if "example_app.dpop_client" in line]
    command = shlex.split(line)[0]
    assert Path(command).resolve() == Path(sys.executable).resolve()
    assert "/introspect" in text and "/revoke" in text


def test_favicon(client: FlaskClient) -> None:
    for path in ("/favicon.ico", "/favicon.svg"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.mimetype == "image/svg+xml"
        assert response.data.startswith(b"<svg")
    assert b'rel="icon"' in client.get("/login").data


def test_a_database_seeded_before_keeps_its_demo_client(
    example_instance: Path, make_app: Callable[..., Flask]
) -> None:
    """Before 0.2.0 the credentials were only in the instance folder: the
    client they name is adopted, not replaced by a new one."""
    first = make_app({"TESTING": True})
    creds = json.loads((example_instance / "demo-client.json").read_text())
    with first.app_context():
        db.session.query(DemoCredentials).delete()
        db.session.commit()
    again = make_app({"TESTING": True})
    with again.app_context():
        assert demo_credentials(again) == creds
        names = [c.name for c in oauth.list_clients()]
    assert names == ["Demo client"]


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


def _read_secret_key_at(
    start: Any, instance: str, results: Any
) -> None:  # a child process: one gunicorn worker booting
    from example_app import _secret_key

    start.wait()
    results.put(_secret_key(Path(instance)))


def test_workers_booting_at_once_share_one_secret_key(tmp_path: Path) -> None:
    """Workers booting together all read one SECRET_KEY (else one worker's
    grace-period replays and sessions are garbage to the others), and the
    key file is private and whole."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    workers = 8
    for trial in range(10):
        instance = tmp_path / f"instance-{trial}"
        instance.mkdir()
        start = context.Barrier(workers)
        results = context.Queue()
        processes = [
            context.Process(
                target=_read_secret_key_at, args=(start, str(instance), results)
            )
            for _ in range(workers)
        ]
        for process in processes:
            process.start()
        keys = {results.get(timeout=30) for _ in processes}
        for process in processes:
            process.join(timeout=30)
            assert process.exitcode == 0
        key_file = instance / "secret_key"
        assert keys == {key_file.read_text()}, f"trial {trial}: {len(keys)} keys"
        assert len(key_file.read_text()) >= 43
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert [p.name for p in instance.iterdir()] == ["secret_key"]
