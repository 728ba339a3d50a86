"""The :class:`RefreshGrant` extension object: ``init_app``, and the
operations an app calls on it (nothing per-app is kept on the object)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask

from . import grace, management
from .authorization_request import AuthorizeView
from .blueprint import blueprint, metadata_blueprint, metrics_blueprint
from .cli import oauth2_cli
from .config import DEFAULTS, Settings
from .errors import ExtensionError
from .metrics import Metrics
from .models import Models, default_models
from .protocols import AuthenticateUser, GetUserId, LoadUser, default_get_user_id
from .server import AuthorizationServer
from .state import EXTENSION_KEY, RefreshGrantState, state
from .store.admin import AdminStore, ClientCredentials
from .store.tokens import TokenStore

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

    Management methods (:meth:`create_client`, …) work on the current app,
    inside an app context.
    """

    def __init__(self, app: Flask | None = None, **kwargs: Any) -> None:
        if app is not None:
            self.init_app(app, **kwargs)

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
            grace.check_secret_key(app.config.get("SECRET_KEY"))
        models = models or default_models(db)
        store = TokenStore(db, models)
        server = AuthorizationServer(
            settings=settings,
            store=store,
            clock=clock,
            authenticate_user=authenticate_user,
            load_user=load_user,
            get_user_id=get_user_id,
            authorization_code=authorize is not None,
        )
        metrics = None
        if settings.metrics_path is not None:
            metrics = Metrics(
                app,
                grant_types=server.grant_types_supported,
                path=settings.metrics_path,
            )
        app.extensions[EXTENSION_KEY] = RefreshGrantState(
            settings=settings,
            models=models,
            store=store,
            admin=AdminStore(db, models),
            server=server,
            authorize=authorize,
            metrics=metrics,
        )
        app.register_blueprint(blueprint, url_prefix=settings.url_prefix)
        app.register_blueprint(metadata_blueprint)
        if settings.metrics_path is not None:
            app.register_blueprint(metrics_blueprint, url_prefix=settings.metrics_path)
        app.cli.add_command(oauth2_cli)

    @staticmethod
    def state(app: Flask | None = None) -> RefreshGrantState:
        """The per-app state of ``app`` (default: the current app)."""
        return state(app)

    def create_client(
        self,
        *,
        name: str,
        grant_types: Iterable[str],
        scope: str = "",
        redirect_uris: Iterable[str] = (),
        public: bool = False,
        **settings: Any,
    ) -> ClientCredentials:
        """Register a client with the current app and return its id and
        secret (the secret is shown this once; only its digest is stored).

        :param grant_types: any of ``authorization_code``, ``refresh_token``,
            ``password``, ``client_credentials``.
        :param scope: space-separated scopes the client may ask for.
        :param public: a public client has no secret and authenticates with
            ``client_id`` alone (PKCE required, refresh tokens always rotate).
        :param settings: per-client settings by column name, e.g.
            ``refresh_token_validity_period=600`` or
            ``renew_refresh_token=False``; omitted or ``None`` inherits the
            app's value.
        :raises ClientRegistrationError: a refused registration; nothing is
            stored.
        """
        return management.create_client(
            state(),
            name=name,
            grant_types=grant_types,
            scope=scope,
            redirect_uris=redirect_uris,
            public=public,
            **settings,
        )
