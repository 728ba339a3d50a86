""":class:`MCPTokenVerifier`: :class:`~.verifier.TokenVerifier` as the
official ``mcp`` Python SDK's server-side token verifier (its
``mcp.server.auth.provider.TokenVerifier`` protocol), so that an MCP server
built with the SDK (``MCPServer(token_verifier=..., auth=AuthSettings(...))``)
accepts the tokens of a flask-refreshgrant server.

Needs the ``mcp`` extra (``pip install 'flask-refreshgrant[mcp]'``); nothing
else in the package imports this module.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio.to_thread
from mcp.server.auth.provider import AccessToken

from .errors import TokenVerificationError
from .verifier import TokenVerifier, audience_list

__all__ = ["MCPTokenVerifier"]

logger = logging.getLogger(__name__)


class MCPTokenVerifier:
    """Adapts a :class:`~.verifier.TokenVerifier` to the ``mcp`` SDK.

    ``verify_token`` runs the (blocking: introspection and JWKS requests)
    verifier in a worker thread, so the server's event loop keeps serving.
    A refused token is ``None`` — the SDK then answers ``401`` with
    ``WWW-Authenticate: Bearer …, resource_metadata="…"``; an authorization
    server that cannot be reached is ``None`` too (the SDK's protocol has
    no other answer) and is logged as a warning.

    The returned ``AccessToken`` carries ``resource`` = this verifier's
    audience (the token's ``aud`` contains it, or it was refused), so
    ``AuthSettings(validate_token_resource=True)`` holds; ``subject`` is the
    token's ``sub`` (the user id) and ``claims`` every claim, ``iss``
    included, which the SDK uses to tie a session to its user.
    """

    def __init__(self, verifier: TokenVerifier) -> None:
        self.verifier = verifier

    async def verify_token(self, token: str) -> AccessToken | None:
        """The SDK's ``TokenVerifier.verify_token``."""
        try:
            claims = await anyio.to_thread.run_sync(self.verifier.verify, token)
        except TokenVerificationError as error:
            if error.status >= 500:
                logger.warning("token not checked: %s", error.description)
            return None
        return self.access_token(token, claims)

    def access_token(self, token: str, claims: dict[str, Any]) -> AccessToken:
        """The SDK's ``AccessToken`` for verified ``claims``."""
        scope = claims.get("scope")
        exp = claims.get("exp")
        sub = claims.get("sub")
        client_id = claims.get("client_id")
        audience = self.verifier.audience
        return AccessToken(
            token=token,
            client_id=client_id if isinstance(client_id, str) else "",
            scopes=scope.split() if isinstance(scope, str) else [],
            expires_at=int(exp) if isinstance(exp, int | float) else None,
            resource=audience if audience in audience_list(claims.get("aud")) else None,
            subject=sub if isinstance(sub, str) else None,
            claims=claims,
        )
