"""Revocation (RFC 7009) and introspection (RFC 7662): Authlib's endpoints over
our storage. Both require client authentication and only ever touch the
calling client's own tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from authlib.oauth2.rfc6749.errors import UnsupportedTokenTypeError
from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint

from . import lifetimes, signals
from .models import AccessTokenMixin, ClientMixin, RefreshTokenMixin

if TYPE_CHECKING:
    from .server import AuthorizationServer

Token = AccessTokenMixin | RefreshTokenMixin


class _TokenLookup:
    """Find a token by its value, looking first where the hint points."""

    server: AuthorizationServer

    def check_params(self, request: Any, client: ClientMixin) -> None:
        try:
            super().check_params(request, client)  # type: ignore[misc]
        except UnsupportedTokenTypeError as error:
            error.status_code = 400  # RFC 7009 §2.2.1: an error response, not 401
            error.description = "Unknown token_type_hint."
            raise

    def query_token(
        self, token_string: str, token_type_hint: str | None
    ) -> Token | None:
        storage = self.server.storage
        finders = [storage.find_access_token, storage.find_refresh_token]
        if token_type_hint == "refresh_token":
            finders.reverse()
        for find in finders:
            token = find(token_string)
            if token is not None:
                return token
        return None


class RevocationEndpoint(_TokenLookup, _RevocationEndpoint):  # type: ignore[misc]
    """``POST {prefix}/revoke``: revoking a refresh token revokes its whole
    family (every refresh and access token of the grant) at once; revoking an
    access token revokes that token. Unknown tokens get ``200`` too."""

    CLIENT_AUTH_METHODS: ClassVar[list[str]] = [
        "client_secret_basic",
        "client_secret_post",
        "none",
    ]

    def revoke_token(self, token: Token, request: Any) -> None:
        storage = self.server.storage
        now = self.server.now()
        if isinstance(token, RefreshTokenMixin):
            storage.revoke_family(token.family_id, now=now)
            family_id: str | None = token.family_id
        else:
            storage.revoke_access_token(token, now=now)
            family_id = None
        signals.emit(
            signals.token_revoked,
            client_id=token.client_id,
            user_id=token.user_id,
            family_id=family_id,
            reason="revocation",
        )


class IntrospectionEndpoint(_TokenLookup, _IntrospectionEndpoint):  # type: ignore[misc]
    """``POST {prefix}/introspect``: a client sees only its own tokens; a
    refresh token reports its own status and expiry, not its access token's."""

    CLIENT_AUTH_METHODS: ClassVar[list[str]] = [
        "client_secret_basic",
        "client_secret_post",
    ]

    def check_permission(self, token: Token, client: ClientMixin, request: Any) -> bool:
        return token.check_client(client)

    def create_introspection_payload(self, token: Token | None) -> dict[str, Any]:
        if token is None or token.is_revoked():
            return {"active": False}
        now = self.server.now()
        if isinstance(token, RefreshTokenMixin):
            if token.is_rotated():
                return {"active": False}
            client = self.server.storage.get_client(token.client_id)
            if client is None:
                return {"active": False}
            policy = self.server.settings.policy_for(client)
            expires_at = lifetimes.effective_refresh_expiry(token, policy)
            token_type = "refresh_token"
        else:
            expires_at = token.expires_at
            token_type = "Bearer"
        if expires_at is not None and now >= expires_at:
            return {"active": False}
        payload: dict[str, Any] = {
            "active": True,
            "scope": token.scope,
            "client_id": token.client_id,
            "token_type": token_type,
            "iat": token.issued_at,
        }
        if expires_at is not None:
            payload["exp"] = expires_at
        if token.user_id is not None:
            payload["sub"] = token.user_id
            user = self.server.load_user(token.user_id)
            username = getattr(user, "username", None)
            if isinstance(username, str):
                payload["username"] = username
        return payload
