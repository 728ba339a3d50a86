"""The :class:`RefreshGrant` extension object: ``init_app``, and the
operations an app calls on it (nothing per-app is kept on the object)."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask

from . import reasons
from .cli.group import oauth2_cli
from .config import DEFAULTS, JWT, Settings
from .dpop.proofs import DPoP, check_settings
from .endpoints.authorization_request import AuthorizeView
from .errors import ConfigurationError, ExtensionError
from .grants import grace
from .grants.lockout import PasswordCheck, PasswordLockout
from .grants.protocols import (
    AuthenticateUser,
    GetUserClaims,
    GetUserId,
    LoadUser,
    default_get_user_id,
)
from .keys import jose
from .keys.access_tokens import AccessTokenReader
from .keys.keyring import Keyring
from .management import operations
from .metrics import Metrics
from .models import Models, complete_models
from .records import AuditReport, ClientRecord, GrantHistory, GrantRecord
from .sealing import usable_secret_key
from .server.authorization_server import AuthorizationServer
from .server.blueprint import blueprint, metadata_blueprint, metrics_blueprint
from .server.state import EXTENSION_KEY, RefreshGrantState, state
from .store.admin import AdminStore, ClientCredentials
from .store.dpop import ProofReplayStore
from .store.lockout import LockoutStore
from .store.registration import RegistrationStore
from .store.signing_keys import SigningKeyStore
from .store.tokens import TokenStore
from .userinfo import userinfo_blueprint

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy

_User = TypeVar("_User")


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

    Management methods (:meth:`create_client`, :meth:`list_grants`, …) work
    on the current app, inside an app context, and return the records of
    ``flask_refreshgrant.records``; an unknown id raises
    :class:`~.errors.NotFoundError`.
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
        get_user_claims: GetUserClaims | None = None,
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
            ``oauth2_*`` models built on ``db`` (and without a
            ``password_lockout`` model, the default one on ``db``).
        :param clock: seconds since the epoch; tests inject a fake one.
        :param get_user_claims: ``(user, scopes) -> dict`` of OpenID Connect
            claims (``preferred_username``, ``email``, …) that
            ``{prefix}/userinfo`` returns with ``sub`` for a token granted
            ``scopes``; default: ``sub`` only.
        """
        if EXTENSION_KEY in app.extensions:
            raise ExtensionError(
                "flask-refreshgrant is already registered on this app. "
                "Call init_app once per app; use the registered instance instead."
            )
        for key, default in DEFAULTS.items():
            # A copy of a list default: each app's config is its own.
            app.config.setdefault(key, copy.copy(default))
        settings = Settings.from_config(app.config)
        secret_key = app.config.get("SECRET_KEY")
        if settings.policy.refresh_token_grace_period > 0:
            grace.check_secret_key(secret_key)
        check_settings(settings, secret_key)
        if settings.policy.access_token_format == JWT and not jose.AVAILABLE:
            raise ConfigurationError(
                "OAUTH2_ACCESS_TOKEN_FORMAT = 'jwt' needs signing keys, which "
                f"need joserfc: {jose.INSTALL_HINT}"
            )
        if settings.policy.access_token_format == JWT and not usable_secret_key(
            secret_key
        ):
            raise ConfigurationError(
                "SECRET_KEY must be set to use OAUTH2_ACCESS_TOKEN_FORMAT = 'jwt': "
                "the private signing keys are stored encrypted with a key "
                "derived from it (and every instance must share it)."
            )
        models = complete_models(db, models)
        store = TokenStore(db, models)
        keys = Keyring(
            SigningKeyStore(db, models),
            settings,
            lambda: int(clock()),
            lambda: app.config.get("SECRET_KEY"),
        )
        if jose.AVAILABLE:
            store.read_jwt = AccessTokenReader(keys)
        server = AuthorizationServer(
            settings=settings,
            store=store,
            lockout=PasswordLockout(LockoutStore(db, models), settings, clock),
            clock=clock,
            authenticate_user=authenticate_user,
            load_user=load_user,
            get_user_id=get_user_id,
            authorization_code=authorize is not None,
            dpop=DPoP(
                settings,
                ProofReplayStore(db, models),
                lambda: int(clock()),
                secret_key,
            ),
            keys=keys,
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
            keys=keys,
            registration=RegistrationStore(db, models),
            authorize=authorize,
            metrics=metrics,
            get_user_claims=get_user_claims,
        )
        # Before Flask-SQLAlchemy's own teardown (registered earlier by
        # db.init_app, so run later), which would raise if the database
        # went away after the response was made.
        app.teardown_appcontext(lambda error: store.end_session())
        app.register_blueprint(blueprint, url_prefix=settings.url_prefix)
        app.register_blueprint(userinfo_blueprint, url_prefix=settings.url_prefix)
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
        serves_resources: Iterable[str] = (),
        **settings: Any,
    ) -> ClientCredentials:
        """Register a client with the current app and return its id and
        secret (the secret is shown this once; only its digest is stored).

        :param grant_types: any of ``authorization_code``, ``refresh_token``,
            ``password``, ``client_credentials``.
        :param scope: space-separated scopes the client may ask for.
        :param public: a public client has no secret and authenticates with
            ``client_id`` alone (PKCE required, refresh tokens always rotate).
        :param serves_resources: the resources (RFC 8707) this client serves
            as a resource server: it may introspect access tokens whose
            audience names one of them, not only its own.
        :param settings: per-client settings by column name, e.g.
            ``refresh_token_validity_period=600`` or
            ``renew_refresh_token=False``; omitted or ``None`` inherits the
            app's value.
        :raises ClientRegistrationError: a refused registration; nothing is
            stored.
        """
        return operations.create_client(
            state(),
            name=name,
            grant_types=grant_types,
            scope=scope,
            redirect_uris=redirect_uris,
            public=public,
            serves_resources=serves_resources,
            **settings,
        )

    def check_password(
        self, username: str, verify: Callable[[], _User | None]
    ) -> PasswordCheck[_User]:
        """Check a password behind the password lock (the one the password
        grant uses), for an app's own login form::

            check = oauth.check_password(
                username, lambda: authenticate_user(username, password)
            )
            if check.user is None:   # wrong, unknown or locked: one message
                response = make_response(render_template(...), 401)
                if check.retry_after is not None:
                    response.headers["Retry-After"] = str(check.retry_after)
                return response

        ``verify()`` returns the user or ``None``; it is not called while
        ``username`` is locked. Failures here and at the password grant
        count together. A lock fires the ``password_lockout`` signal.
        """
        return state().server.lockout.check(username, verify)

    def get_client(self, client_id: str) -> ClientRecord:
        """The client ``client_id`` (never its secret).

        :raises NotFoundError: no such client.
        """
        return operations.get_client(state(), client_id)

    def list_clients(self) -> list[ClientRecord]:
        """Every registered client, oldest first."""
        return operations.list_clients(state())

    def update_client(self, client_id: str, **changes: Any) -> ClientRecord:
        """Change what is given and nothing else; return the client as it is now.

        :param changes: any of ``name``, ``grant_types``, ``scope``,
            ``redirect_uris``, ``serves_resources`` and the per-client
            settings by column name;
            a setting given as ``None`` inherits the app's value again.
            Applies from the next request on: tokens already issued keep
            their expiry.
        :raises NotFoundError: no such client.
        :raises ClientRegistrationError: a refused change; nothing is stored.
        """
        return operations.update_client(state(), client_id, **changes)

    def rotate_client_secret(
        self, client_id: str, keep_old_for: int = 0
    ) -> ClientCredentials:
        """Give a confidential client a new secret, returned this once.

        :param keep_old_for: seconds the replaced secret keeps working, so
            that a deployment can switch without downtime (``0``: it stops
            at once). Only the most recent replaced secret is kept.
        :raises NotFoundError: no such client.
        :raises ClientRegistrationError: a public client (no secret), or a
            negative ``keep_old_for``.
        """
        return operations.rotate_client_secret(
            state(), client_id, keep_old_for=keep_old_for
        )

    def delete_client(self, client_id: str) -> int:
        """Revoke every token of the client (reason ``client_deleted``), then
        delete it: its id never authenticates again. Returns how many tokens
        were revoked.

        :raises NotFoundError: no such client.
        """
        return operations.delete_client(state(), client_id)

    def list_grants(
        self,
        user_id: str | None = None,
        client_id: str | None = None,
        include_inactive: bool = False,
    ) -> list[GrantRecord]:
        """Grants (refresh token families), oldest first: active ones only,
        unless ``include_inactive`` (then expired and revoked ones too).

        :param user_id: only this user's grants.
        :param client_id: only this client's grants.
        :raises NotFoundError: ``client_id`` names no client (and no grant).
        """
        return operations.list_grants(
            state(),
            user_id=user_id,
            client_id=client_id,
            include_inactive=include_inactive,
        )

    def grant_history(self, grant_id: str, user_id: str | None = None) -> GrantHistory:
        """A grant and every refresh token of its family, in issue order,
        with when and why it was revoked.

        :param user_id: only if the grant is this user's (else
            :class:`NotFoundError`, as for an unknown id).
        :raises NotFoundError: no such grant.
        """
        return operations.grant_history(state(), grant_id, user_id=user_id)

    def revoke_grant(self, grant_id: str, user_id: str | None = None) -> int:
        """Revoke a grant's refresh and access tokens on behalf of its user
        (reason ``user``); how many were still live.

        :param user_id: only if the grant is this user's (else
            :class:`NotFoundError`): what a user-facing page passes.
        :raises NotFoundError: no such grant.
        """
        return operations.revoke_grant(
            state(), grant_id, reason=reasons.USER, user_id=user_id
        )

    def audit(self) -> AuditReport:
        """Check the stored tokens against the storage invariants and count
        them by status (what ``flask oauth2 audit`` prints): no grant has two
        live refresh tokens, no token outlives its grant's revocation, no
        token row lacks its grant. ``report.clean`` is ``True`` when every
        invariant holds; ``report.violations`` lists the rows that break one.
        """
        return operations.audit(state())

    def revoke_user(self, user_id: str | int) -> int:
        """Revoke every refresh and access token of a user, at every client
        (reason ``user``); how many were still live.

        Call it when the app deletes (or disables) a user: a refresh for a
        user who no longer loads is refused anyway, but ``require_oauth``
        does not load the user on every call, so the user's access tokens
        would pass until they expire.
        """
        return operations.revoke_user(state(), str(user_id))
