"""The :class:`RefreshGrant` extension object: ``init_app`` and nothing per-app."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from flask import Flask

from . import replay
from .authorize import AuthorizeView
from .cli import oauth2_cli
from .config import DEFAULTS, Settings
from .errors import ExtensionError
from .models import Models, default_models
from .server import (
    AuthenticateUser,
    AuthorizationServer,
    GetUserId,
    LoadUser,
    default_get_user_id,
)
from .state import EXTENSION_KEY, RefreshGrantState, state
from .storage import Storage
from .views import blueprint, metadata_blueprint

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy


class RefreshGrant:
    """Turns a Flask app into an OAuth 2.0 authorization server.

    Application-factory friendly: one object serves many apps, and all per-app
    state lives in ``app.extensions["refreshgrant"]``::

        oauth = RefreshGrant()

        def create_app():
            app = Flask(__name__)
            db.init_app(app)
            oauth.init_app(app, db=db, authenticate_user=check_password,
                           load_user=lambda user_id: db.session.get(User, user_id))
            return app
    """

    def __init__(self, app: Flask | None = None, **kwargs: object) -> None:
        if app is not None:
            self.init_app(app, **kwargs)  # type: ignore[arg-type]

    def init_app(
        self,
        app: Flask,
        *,
        db: SQLAlchemy,
        load_user: LoadUser,
        authenticate_user: AuthenticateUser | None = None,
        get_user_id: GetUserId = default_get_user_id,
        authorize: AuthorizeView | None = None,
        models: Models | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Register the extension on ``app``.

        :param db: the app's Flask-SQLAlchemy object; the models live on it.
        :param load_user: ``user_id (str) -> user or None``; a refresh for a
            user that no longer loads is refused with ``invalid_grant``.
        :param authenticate_user: ``(username, password) -> user or None``;
            enables the (legacy) password grant.
        :param get_user_id: ``user -> str``; default ``user.get_user_id()``
            or ``user.id``.
        :param authorize: your login-and-consent view (see
            :class:`~flask_refreshgrant.AuthorizationRequest`); enables the
            authorization endpoint and the authorization code grant with PKCE.
        :param models: your own models built from the mixins; default: the
            ``oauth2_*`` models built on ``db``.
        :param clock: seconds since the epoch; tests inject a fake one.
        """
        if EXTENSION_KEY in app.extensions:
            raise ExtensionError(
                "flask-refreshgrant is already registered on this app. "
                "Call init_app once per app; use the registered instance instead."
            )
        for key, default in DEFAULTS.items():
            app.config.setdefault(key, default)
        settings = Settings.from_config(app.config)
        if settings.policy.refresh_token_grace_period > 0:
            replay.check_secret_key(app.config.get("SECRET_KEY"))
        models = models or default_models(db)
        storage = Storage(db, models, clock)
        server = AuthorizationServer(
            settings=settings,
            storage=storage,
            authenticate_user=authenticate_user,
            load_user=load_user,
            get_user_id=get_user_id,
            authorization_code=authorize is not None,
        )
        app.extensions[EXTENSION_KEY] = RefreshGrantState(
            settings=settings,
            models=models,
            storage=storage,
            server=server,
            authorize=authorize,
        )
        app.register_blueprint(blueprint, url_prefix=settings.url_prefix)
        app.register_blueprint(metadata_blueprint)
        app.cli.add_command(oauth2_cli)

    @staticmethod
    def state(app: Flask | None = None) -> RefreshGrantState:
        """The per-app state of ``app`` (default: the current app)."""
        return state(app)
