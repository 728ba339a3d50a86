"""What the grants, endpoints and authorization request need from the
authorization server, as typed interfaces: they depend on these, never on
the server class (Authlib hands them the server as ``self.server``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ..config import Settings
from ..dpop.proofs import DPoP
from ..keys.keyring import Keyring
from ..store.tokens import TokenStore
from .lockout import PasswordLockout

#: ``(username, password) -> user or None``: the password grant's check.
AuthenticateUser = Callable[[str, str], Any]
#: ``user_id -> user or None``: a user who no longer loads gets no tokens.
LoadUser = Callable[[str], Any]
#: ``user -> user_id``, the string stored on every token.
GetUserId = Callable[[Any], str]
#: ``(user, scopes) -> claims``: OpenID Connect userinfo claims (``name``,
#: ``email``, …) of ``user`` for the granted ``scopes``.
GetUserClaims = Callable[[Any, list[str]], Mapping[str, Any]]


def default_get_user_id(user: Any) -> str:
    """``user.get_user_id()`` (Authlib's convention) if it exists, else ``user.id``."""
    getter = getattr(user, "get_user_id", None)
    return str(getter() if callable(getter) else user.id)


class GrantServer(Protocol):
    """The server as grants and the revocation and introspection endpoints
    see it: settings, the token store, DPoP, the clock and the app's user
    hooks."""

    settings: Settings
    store: TokenStore
    #: The password lock the password grant checks through.
    lockout: PasswordLockout
    dpop: DPoP
    #: The signing keys of JWT access tokens and ID tokens.
    keys: Keyring
    authenticate_user: AuthenticateUser | None
    load_user: LoadUser
    get_user_id: GetUserId

    def now(self) -> int:
        """The app's clock, in whole seconds since the epoch."""

    def validate_requested_scope(self, scope: str | None) -> None:
        """Authlib's check of a scope against ``scopes_supported``."""


class ConsentServer(Protocol):
    """The server as an :class:`~..endpoints.authorization_request.AuthorizationRequest`
    sees it: Authlib's two calls of the authorization endpoint."""

    def get_consent_grant(self, request: Any = None, end_user: Any = None) -> Any:
        """Validate the current authorization request; its grant."""

    def create_authorization_response(
        self, request: Any = None, grant_user: Any = None, grant: Any = None
    ) -> Any:
        """Redirect back to the client, with a code or an error."""

    def handle_error_response(self, request: Any, error: Any) -> Any:
        """An error, redirected back to the client when it has a redirect URI."""

    def now(self) -> int:
        """The app's clock, in whole seconds since the epoch."""
