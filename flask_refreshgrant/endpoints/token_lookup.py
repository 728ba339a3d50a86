"""What revocation and introspection share: finding a presented token by its
value, looking first where ``token_type_hint`` points."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749.errors import UnsupportedTokenTypeError

from ..grants.protocols import GrantServer
from ..models import AccessTokenMixin, ClientMixin, RefreshTokenMixin

Token = AccessTokenMixin | RefreshTokenMixin


class TokenLookup:
    """Find a token by its value, looking first where the hint points."""

    server: GrantServer

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
        store = self.server.store
        finders = [store.find_access_token, store.find_refresh_token]
        if token_type_hint == "refresh_token":
            finders.reverse()
        for find in finders:
            token = find(token_string)
            if token is not None:
                return token
        return None
