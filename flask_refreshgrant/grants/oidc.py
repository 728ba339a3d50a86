"""OpenID Connect on the authorization code flow (Core 1.0 §3.1) and on
refresh (§12.2): ID tokens signed with the keys of :mod:`..keys`.

Built on ``authlib.oidc.core``: :mod:`.oidc_code` holds Authlib's code-flow
extension (its hooks, its ``nonce`` check) and ``at_hash`` is Authlib's
``create_half_hash``; the ID token is made here instead of by Authlib's
``encode_id_token``, because that one reads the system clock instead of the
app's, takes its key from a static configuration instead of the database
keys every instance shares, and has no counterpart for the refresh grant,
whose ID tokens must keep the first one's ``auth_time`` (§12.2).

``authlib.oidc.core`` needs joserfc, so it is imported only when an ID token
is made (see :data:`..keys.jose.AVAILABLE`).
"""

from __future__ import annotations

from typing import Any

from ..issuer import issuer_url
from ..keys import jose
from ..models import AuthorizationCodeMixin
from .protocols import GrantServer

#: The ``typ`` header of an ID token.
ID_TOKEN_TYPE = "JWT"
OPENID = "openid"
OFFLINE_ACCESS = "offline_access"


def has_openid(scope: str | None) -> bool:
    """Whether ``scope`` holds ``openid`` (and OpenID Connect can be served)."""
    return jose.AVAILABLE and OPENID in (scope or "").split()


def id_token(
    server: GrantServer,
    *,
    client_id: str,
    user_id: str,
    auth_time: int,
    access_token: str,
    nonce: str | None = None,
) -> str:
    """A signed ID token (Core §2) for ``user_id`` at ``client_id``."""
    from authlib.oidc.core.util import create_half_hash

    keys = server.keys
    key = keys.current()
    now = server.now()
    claims: dict[str, Any] = {
        "iss": issuer_url(server.settings),
        "sub": user_id,
        "aud": client_id,
        "exp": now + server.settings.id_token_validity_period,
        "iat": now,
        "auth_time": auth_time,
    }
    if nonce:
        claims["nonce"] = nonce
    at_hash = create_half_hash(access_token, key.alg)
    if at_hash is not None:
        claims["at_hash"] = at_hash.decode("ascii")
    return keys.sign(claims, typ=ID_TOKEN_TYPE, row=key)


def refresh_without_offline_access(server: GrantServer, scope: str) -> bool:
    """``OAUTH2_OIDC_REFRESH_REQUIRES_OFFLINE_ACCESS``: an ``openid`` grant
    without ``offline_access`` gets no refresh token."""
    return (
        server.settings.oidc_refresh_requires_offline_access
        and has_openid(scope)
        and OFFLINE_ACCESS not in scope.split()
    )


class CodeFacts:
    """What the ID token of a code exchange needs from the code, read before
    the exchange's commit expires the code's attributes."""

    def __init__(self, code: AuthorizationCodeMixin) -> None:
        self.client_id = code.client_id
        self.user_id = code.user_id
        self.nonce = code.nonce
        self.auth_time: int = code.auth_time or code.issued_at
