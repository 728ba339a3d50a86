"""A small app for trying flask-refreshgrant with curl, like WSO2's "try it out".

``flask --app example_app run`` or ``gunicorn 'example_app:create_app()'``.
SQLite in the instance folder by default (``EXAMPLE_INSTANCE_PATH`` moves
that folder); ``DATABASE_URL`` (or
``FLASK_SQLALCHEMY_DATABASE_URI``) switches to PostgreSQL. Every config key
can come from the environment with the ``FLASK_`` prefix, e.g.
``FLASK_OAUTH2_REFRESH_TOKEN_VALIDITY_PERIOD=60``.

Web pages (``pages.py``: ``server_pages.py`` for the authorization server's
login and consent, ``demo_client.py`` for the demo client; they need the
``example`` extra, Flask-WTF): log in as demo/demo, approve the demo client,
see the tokens and refresh them; ``/connected-apps`` (``connected_apps.py``)
lists what the logged-in user authorized, each grant with a picture of its
token family, and revokes it.
``EXAMPLE_BASE_URL`` (or ``FLASK_EXAMPLE_BASE_URL``) is where the browser
reaches the app, when it is not on this machine: the demo client's redirect
URI and the issuer are under it. Unset, the pages work on any loopback host
and port (see ``demo.py``).

``GET /metrics`` serves Prometheus metrics (the ``metrics`` extra, part of
``example``); under gunicorn with several workers set
``PROMETHEUS_MULTIPROC_DIR`` (see the README's *Metrics*).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue

from flask_refreshgrant import current_token, require_oauth

from .cli import register_commands
from .database import answer_outages, database_engine_options, database_url
from .demo import support_demo_scopes
from .loopback import PinLoopbackHost
from .models import authenticate_user, db, load_user, oauth
from .pages import init_web
from .seeding import prepare_database
from .server_pages import authorize
from .sessions import NoSessionOnClientEndpoints, client_endpoint_paths

__all__ = ["create_app", "oauth"]


def _secret_key(instance: Path) -> str:
    """One key shared by every worker: kept in the instance folder.

    Workers boot at once, so the file appears whole or not at all: each
    writes a key of its own under a private name, then links it into place;
    the first link wins, and every worker reads the winner's key.
    """
    path = instance / "secret_key"
    if not path.exists():
        fd, draft = tempfile.mkstemp(dir=instance, prefix=".secret_key.")
        try:
            with os.fdopen(fd, "w") as file:  # mkstemp's file is mode 0600
                file.write(secrets.token_urlsafe(32))
            with contextlib.suppress(FileExistsError):
                os.link(draft, path)
        finally:
            os.unlink(draft)
    return path.read_text().strip()


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the example app, create its tables and seed the demo data."""
    instance_path = os.environ.get("EXAMPLE_INSTANCE_PATH")
    app = Flask(
        __name__,
        instance_path=None if not instance_path else os.path.abspath(instance_path),
        instance_relative_config=True,
    )
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=database_url(instance),
        OAUTH2_SCOPES_SUPPORTED=["PRODUCTION", "SANDBOX"],
        # Prometheus metrics (the `metrics` extra, part of `example`).
        OAUTH2_METRICS_PATH="/metrics",
        EXAMPLE_BASE_URL=os.environ.get("EXAMPLE_BASE_URL") or None,
        EXAMPLE_QUIET=False,
        # The session holds the login and the demo client's tokens.
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.config.from_prefixed_env()
    if test_config:
        app.config.update(test_config)
    support_demo_scopes(app.config)
    base_url = app.config["EXAMPLE_BASE_URL"] = app.config["EXAMPLE_BASE_URL"] or None
    if base_url is not None:
        # Metadata and the iss of authorization responses name it, rather
        # than whatever Host header a request carries.
        app.config.setdefault("OAUTH2_ISSUER", base_url)
        if str(base_url).startswith("https://"):
            app.config["SESSION_COOKIE_SECURE"] = True
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(instance)
    app.config.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS",
        database_engine_options(app.config["SQLALCHEMY_DATABASE_URI"]),
    )

    if base_url is None and not app.config.get("OAUTH2_ISSUER"):
        # The issuer (and every absolute URL) names the loopback address
        # served, not whatever Host header a request carries (SPEC §8).
        app.wsgi_app = PinLoopbackHost(app.wsgi_app)  # type: ignore[method-assign]

    db.init_app(app)
    oauth.init_app(
        app,
        db=db,
        authenticate_user=authenticate_user,
        load_user=load_user,
        authorize=authorize,
        # OpenID Connect userinfo: the username, for the "OpenID" path.
        get_user_claims=lambda user, scopes: {"preferred_username": user.username},
    )
    # No cookie session on the endpoints OAuth clients call (sessions.py).
    app.session_interface = NoSessionOnClientEndpoints(
        client_endpoint_paths(oauth.state(app).settings.url_prefix)
    )
    init_web(app)
    register_commands(app)
    answer_outages(app, db)

    @app.get("/api/me")
    @require_oauth()
    def me() -> ResponseReturnValue:
        """The token's user and scope: a protected resource."""
        token: Any = current_token
        user = load_user(token.user_id) if token.user_id else None
        return jsonify(
            user=None if user is None else user.username,
            user_id=token.user_id,
            client_id=token.client_id,
            scope=token.scope,
        )

    with app.app_context():
        prepare_database(app)
    return app
