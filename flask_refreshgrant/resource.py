"""Protect your own routes with the access tokens this server issues::

    from flask_refreshgrant import current_token, require_oauth

    @app.get("/api/me")
    @require_oauth("PRODUCTION")
    def me():
        return {"user": current_token.user_id, "scope": current_token.scope}

Expired, revoked and unknown tokens get ``401`` with
``WWW-Authenticate: Bearer error="invalid_token"`` (RFC 6750 §3.1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from authlib.integrations.flask_oauth2 import ResourceProtector as _ResourceProtector
from authlib.integrations.flask_oauth2 import current_token
from authlib.oauth2.rfc6750 import BearerTokenValidator as _BearerTokenValidator
from authlib.oauth2.rfc6750 import InsufficientScopeError, InvalidTokenError
from flask import abort

from .http_errors import DATABASE_UNAVAILABLE, database_unavailable
from .models import AccessTokenMixin
from .state import state

__all__ = [
    "BearerTokenValidator",
    "ResourceProtector",
    "current_token",
    "require_oauth",
]

F = TypeVar("F", bound=Callable[..., Any])


class BearerTokenValidator(_BearerTokenValidator):  # type: ignore[misc]
    """Bearer tokens looked up by digest in the current app's access tokens."""

    def authenticate_token(self, token_string: str) -> AccessTokenMixin | None:
        return state().store.find_access_token(token_string)

    def validate_token(
        self, token: AccessTokenMixin | None, scopes: Any, request: Any
    ) -> None:
        if (
            token is None
            or token.is_revoked()
            or token.expires_at <= state().server.now()
        ):
            raise InvalidTokenError(
                realm=self.realm, extra_attributes=self.extra_attributes
            )
        if self.scope_insufficient(token.get_scope(), scopes):
            raise InsufficientScopeError()


class ResourceProtector(_ResourceProtector):  # type: ignore[misc]
    """Authlib's protector, with a typed decorator."""

    def __call__(
        self, scopes: str | list[str] | None = None, optional: bool = False
    ) -> Callable[[F], F]:
        decorator: Callable[[F], F] = super().__call__(scopes, optional)
        return decorator

    def acquire_token(self, scopes: Any = None, **kwargs: Any) -> Any:
        """Authlib's, answering ``503`` when the database cannot be reached."""
        try:
            return super().acquire_token(scopes, **kwargs)
        except DATABASE_UNAVAILABLE as error:
            abort(database_unavailable(error, state().store.rollback))


#: Decorator guarding a route with a bearer access token (optionally scopes).
require_oauth = ResourceProtector()
require_oauth.register_token_validator(BearerTokenValidator())
