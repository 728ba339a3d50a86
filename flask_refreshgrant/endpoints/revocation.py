"""Revocation (RFC 7009): Authlib's endpoint over our store. It requires
client authentication and only ever touches the calling client's tokens."""

from __future__ import annotations

from typing import Any, ClassVar

from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint

from .. import reasons, signals
from ..models import RefreshTokenMixin
from .token_lookup import Token, TokenLookup


class RevocationEndpoint(TokenLookup, _RevocationEndpoint):  # type: ignore[misc]
    """``POST {prefix}/revoke``: revoking a refresh token revokes its whole
    family (every refresh and access token of the grant) at once; revoking an
    access token revokes that token. Unknown tokens get ``200`` too."""

    CLIENT_AUTH_METHODS: ClassVar[list[str]] = [
        "client_secret_basic",
        "client_secret_post",
        "none",
    ]

    def revoke_token(self, token: Token, request: Any) -> None:
        store = self.server.store
        now = self.server.now()
        if isinstance(token, RefreshTokenMixin):
            store.revoke_family(token.family_id, now=now, reason=reasons.REVOCATION)
            family_id: str | None = token.family_id
        else:
            store.revoke_access_token(token, now=now)
            family_id = None
        signals.emit(
            signals.token_revoked,
            client_id=token.client_id,
            user_id=token.user_id,
            family_id=family_id,
            reason=reasons.REVOCATION,
        )
