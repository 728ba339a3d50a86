"""Introspection (RFC 7662): Authlib's endpoint over our store, for
confidential clients and their own tokens only."""

from __future__ import annotations

from typing import Any, ClassVar

from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint

from ..grants import lifetimes
from ..grants.resources import audience_of
from ..models import ClientMixin, RefreshTokenMixin
from ..resource_uris import audience_claim, split
from .token_lookup import Token, TokenLookup


class IntrospectionEndpoint(TokenLookup, _IntrospectionEndpoint):  # type: ignore[misc]
    """``POST {prefix}/introspect``: a client sees only its own tokens, and
    a resource server client the access tokens for its resources; a
    refresh token reports its own status and expiry, not its access token's."""

    CLIENT_AUTH_METHODS: ClassVar[list[str]] = [
        "client_secret_basic",
        "client_secret_post",
    ]

    def check_permission(self, token: Token, client: ClientMixin, request: Any) -> bool:
        """Its own tokens; and a resource server client (``served_resources``)
        the access tokens whose audience names a resource it serves (RFC
        7662 §4)."""
        if token.check_client(client):
            return True
        served = split(client.served_resources)
        if not served or isinstance(token, RefreshTokenMixin):
            return False
        return bool(
            set(served) & set(audience_of(self.server.settings, token.audience))
        )

    def create_introspection_payload(self, token: Token | None) -> dict[str, Any]:
        if token is None or token.is_revoked():
            return {"active": False}
        now = self.server.now()
        if isinstance(token, RefreshTokenMixin):
            if token.is_rotated():
                return {"active": False}
            client = self.server.store.get_client(token.client_id)
            if client is None:
                return {"active": False}
            policy = self.server.settings.policy_for(client)
            expires_at = lifetimes.effective_refresh_expiry(token, policy)
            token_type = "refresh_token"
        else:
            expires_at = token.expires_at
            token_type = "Bearer" if token.dpop_jkt is None else "DPoP"
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
        if not isinstance(token, RefreshTokenMixin):
            # RFC 8707: the resources the token is for (RFC 7662 ``aud``).
            audience = audience_of(self.server.settings, token.audience)
            payload["aud"] = audience_claim(audience)
        if token.dpop_jkt is not None:
            payload["cnf"] = {"jkt": token.dpop_jkt}  # RFC 9449 §6.2
        if token.user_id is not None:
            payload["sub"] = token.user_id
            user = self.server.load_user(token.user_id)
            username = getattr(user, "username", None)
            if isinstance(username, str):
                payload["username"] = username
        return payload
