"""Test helpers for apps that use flask-refreshgrant: mint a client and tokens
for your own tests without driving a password or code flow.

As a pytest plugin (with pytest-flask's ``app`` and ``client`` fixtures)::

    # conftest.py
    pytest_plugins = ["flask_refreshgrant.testing"]

    # test_api.py
    def test_me(client, oauth_tokens):
        tokens = oauth_tokens(user, scope="PRODUCTION")
        assert client.get("/api/me", headers=tokens.headers).status_code == 200

The same factories are plain functions for other test runners:
:func:`create_client` and :func:`mint_tokens`. The tokens are real: stored
(as digests) like those of an authorization code grant, so refreshing,
revoking and introspecting them behave as in production.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, current_app

from .errors import ExtensionError
from .grants.issuing import finish_new_grant
from .management.operations import create_client as register_client
from .management.registration import GRANT_TYPES
from .server.state import state
from .store.admin import ClientCredentials

#: The grant type minted tokens are recorded under: what an app's users go
#: through to get tokens with a refresh token.
MINTED_GRANT_TYPE = "authorization_code"


@dataclasses.dataclass(frozen=True)
class MintedTokens:
    """A token response for a user, as a client would have received it."""

    access_token: str
    #: ``None`` when the client is not registered for ``refresh_token``.
    refresh_token: str | None
    token_type: str
    expires_in: int
    scope: str
    #: The client the tokens were issued to.
    client: ClientCredentials
    #: The whole JSON body a token endpoint would have returned.
    response: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        """``Authorization`` header for a protected route."""
        return {"Authorization": f"{self.token_type} {self.access_token}"}


def _app(app: Flask | None) -> Flask:
    if app is not None:
        return app
    found: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return found


def create_client(
    app: Flask | None = None,
    *,
    name: str = "test client",
    grant_types: Iterable[str] = GRANT_TYPES,
    scope: str | None = None,
    redirect_uris: Iterable[str] = ("https://client.example/callback",),
    public: bool = False,
    **settings: Any,
) -> ClientCredentials:
    """Register a client on ``app`` (default: the current app).

    ``scope=None`` registers every scope of ``OAUTH2_SCOPES_SUPPORTED`` (none
    if that is unset). A public client gets no ``client_credentials``.
    """
    target = _app(app)
    with target.app_context():
        app_state = state(target)
        if scope is None:
            scope = " ".join(app_state.settings.scopes_supported or ())
        if public:
            grant_types = [g for g in grant_types if g != "client_credentials"]
        return register_client(
            app_state,
            name=name,
            grant_types=grant_types,
            scope=scope,
            redirect_uris=redirect_uris,
            public=public,
            **settings,
        )


def mint_tokens(
    user: Any,
    scope: str | None = None,
    client: ClientCredentials | None = None,
    *,
    app: Flask | None = None,
) -> MintedTokens:
    """Issue an access token (and a refresh token, if the client may have
    one) for ``user`` — a user object or its id — as a fresh grant.

    ``client=None`` registers a new client with ``scope``; ``scope=None``
    grants the client's whole scope. A scope the client is not registered for
    raises :class:`ValueError`.
    """
    target = _app(app)
    with target.app_context():
        if client is None:
            client = create_client(target, scope=scope)
        app_state = state(target)
        server = app_state.server
        registered = app_state.store.get_client(client.client_id)
        if registered is None:
            raise ExtensionError(f"no client {client.client_id!r} on this app")
        if scope is not None and not set(scope.split()) <= set(registered.scopes):
            raise ValueError(
                f"scope {scope!r} is not within the client's {registered.scope!r}"
            )
        user_id = str(user) if isinstance(user, str | int) else server.get_user_id(user)
        policy = app_state.settings.policy_for(registered)
        token: dict[str, Any] = server.generate_token(
            grant_type=MINTED_GRANT_TYPE,
            client=registered,
            user=user_id,
            scope=scope,
            expires_in=policy.access_token_validity_period,
        )
        finish_new_grant(
            token,
            policy=policy,
            now=server.now(),
            client_id=client.client_id,
            user_id=user_id,
            grant_type=MINTED_GRANT_TYPE,
            store=app_state.store.issue_new_grant,
        )
    return MintedTokens(
        access_token=token["access_token"],
        refresh_token=token.get("refresh_token"),
        token_type=token["token_type"],
        expires_in=token["expires_in"],
        scope=token.get("scope", ""),
        client=client,
        response=token,
    )


try:
    import pytest
except ImportError:  # pragma: no cover (the plain functions need no pytest)
    pass
else:

    @pytest.fixture
    def oauth_client(app: Flask) -> Callable[..., ClientCredentials]:
        """Factory: ``oauth_client(scope="A B", public=False, **settings)``
        registers a client on pytest-flask's ``app`` and returns its id and
        secret."""

        def make(**kwargs: Any) -> ClientCredentials:
            return create_client(app, **kwargs)

        return make

    @pytest.fixture
    def oauth_tokens(app: Flask) -> Callable[..., MintedTokens]:
        """Factory: ``oauth_tokens(user, scope="A", client=None)`` returns
        :class:`MintedTokens` for ``user``, ready-made ``headers`` included."""

        def make(
            user: Any, scope: str | None = None, client: ClientCredentials | None = None
        ) -> MintedTokens:
            return mint_tokens(user, scope, client, app=app)

        return make
