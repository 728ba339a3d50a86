"""JWT access tokens (RFC 9068): their claims, and a presented one read
back to its ``jti``, whose digest is what the database keeps."""

from __future__ import annotations

from typing import Any

from ..security import generate_token
from .keyring import Keyring

#: The ``typ`` header of a JWT access token (RFC 9068 §2.1).
ACCESS_TOKEN_TYPE = "at+jwt"


def new_jti() -> str:
    """A ``jti``: as random as an opaque token (256 bits)."""
    return generate_token()


def access_token_claims(
    *,
    issuer: str,
    audience: str | list[str],
    subject: str,
    client_id: str,
    scope: str | None,
    now: int,
    expires_in: int,
    jti: str,
    auth_time: int | None,
    jkt: str | None,
) -> dict[str, Any]:
    """The claims of RFC 9068 §2.2 (and ``cnf.jkt`` of RFC 9449 §6.1)."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "exp": now + expires_in,
        "aud": audience,
        "sub": subject,
        "client_id": client_id,
        "iat": now,
        "jti": jti,
    }
    if scope:
        claims["scope"] = scope
    if auth_time is not None:
        claims["auth_time"] = auth_time
    if jkt is not None:
        claims["cnf"] = {"jkt": jkt}
    return claims


def looks_like_jwt(token: str) -> bool:
    """Three dot-separated parts, as a compact JWS has (an opaque token has none)."""
    return token.count(".") == 2


class AccessTokenReader:
    """A presented JWT access token to its ``jti``: ``None`` unless one of
    the published keys signed it, as an ``at+jwt``. Expiry and revocation
    are the stored row's business (a revoked JWT is refused at once here)."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    def __call__(self, token: str) -> str | None:
        claims = self.keyring.verify(token, typ=ACCESS_TOKEN_TYPE)
        if claims is None:
            return None
        jti = claims.get("jti")
        return jti if isinstance(jti, str) and jti else None
