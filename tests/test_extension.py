"""Wiring: application factories, per-app state, helpful errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_refreshgrant import ExtensionError, RefreshGrant

from .conftest import FakeClock, build_app


def test_state_lives_in_app_extensions(tmp_path: Path) -> None:
    app, _, _, _ = build_app(f"sqlite:///{tmp_path / 'a.db'}", FakeClock())
    assert app.extensions["refreshgrant"] is RefreshGrant.state(app)


def test_registering_twice_raises_a_helpful_error() -> None:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
    db = SQLAlchemy(app)
    oauth = RefreshGrant()
    oauth.init_app(app, db=db, load_user=lambda user_id: None)
    with pytest.raises(ExtensionError, match="already registered"):
        oauth.init_app(app, db=db, load_user=lambda user_id: None)


def test_state_of_an_app_without_the_extension() -> None:
    with pytest.raises(ExtensionError, match="not registered"):
        RefreshGrant.state(Flask(__name__))


def test_one_extension_object_serves_two_apps_with_different_config(
    tmp_path: Path,
) -> None:
    oauth = RefreshGrant()
    apps = []
    for name, prefix, validity in (("a", "/oauth2", 60), ("b", "/auth", 120)):
        app = Flask(name)
        app.config.update(
            SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / name}.db",
            OAUTH2_URL_PREFIX=prefix,
            OAUTH2_REFRESH_TOKEN_VALIDITY_PERIOD=validity,
        )
        db = SQLAlchemy(app)
        oauth.init_app(app, db=db, load_user=lambda user_id: None)
        apps.append(app)
    a, b = (RefreshGrant.state(app) for app in apps)
    assert a.settings.policy.refresh_token_validity_period == 60
    assert b.settings.policy.refresh_token_validity_period == 120
    assert a.server is not b.server
    assert apps[0].test_client().get("/oauth2/token").status_code == 405
    assert apps[1].test_client().get("/auth/token").status_code == 405
    assert apps[1].test_client().get("/oauth2/token").status_code == 404


def test_default_models_are_built_once_per_db(tmp_path: Path) -> None:
    from flask_refreshgrant.models import default_models

    db = SQLAlchemy()
    assert default_models(db) is default_models(db)
    assert default_models(SQLAlchemy()) is not default_models(db)


def test_without_authorize_view_there_is_no_authorization_endpoint(
    tmp_path: Path,
) -> None:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'n.db'}"
    db = SQLAlchemy(app)
    RefreshGrant().init_app(app, db=db, load_user=lambda user_id: None)
    http = app.test_client()
    response = http.get("/oauth2/authorize?response_type=code&client_id=x")
    assert response.status_code == 404
    assert response.json is not None
    assert response.json["error"] == "invalid_request"
    metadata = http.get("/.well-known/oauth-authorization-server").json
    assert metadata is not None
    assert metadata["response_types_supported"] == []
    assert "authorization_endpoint" not in metadata
    assert metadata["grant_types_supported"] == ["refresh_token", "client_credentials"]
