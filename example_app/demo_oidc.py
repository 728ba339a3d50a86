"""The demo client's "OpenID" path (OpenID Connect on the code flow): a
``nonce`` at ``/authorize``, the ID token checked as a relying party checks
it (signature against the JWKS, ``iss``, ``aud``, ``exp``, ``nonce``), and
``preferred_username`` from userinfo.

The client is the same app as the server, so it reads the JWKS from the
server's key store instead of over HTTP (as :mod:`.demo_client_calls`
explains for the token endpoint); the checks are joserfc's and its own.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import current_app
from joserfc import jwt
from joserfc.jwk import KeySet

from flask_refreshgrant import RefreshGrant

from .demo import demo_credentials
from .demo_client_calls import call_userinfo

#: The claims the token page shows, in this order, and which are times.
SHOWN_CLAIMS = ("iss", "sub", "aud", "auth_time", "iat", "exp", "nonce", "at_hash")
TIME_CLAIMS = ("auth_time", "iat", "exp")


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


class IDTokenError(Exception):
    """The ID token failed a relying party's check; the message says which."""


def checked_claims(id_token: str, nonce: str | None) -> dict[str, Any]:
    """The claims of ``id_token`` after OpenID Connect Core §3.1.3.7's checks
    (``nonce`` only at the code exchange: a refreshed ID token has none)."""
    app_state = RefreshGrant.state()
    keyset = KeySet.import_key_set(app_state.keys.jwks())  # type: ignore[arg-type]
    try:
        claims = dict(jwt.decode(id_token, keyset).claims)
    except Exception as error:  # any joserfc failure is a refusal
        raise IDTokenError(f"bad signature or format: {error}") from None
    client_id = demo_credentials(current_app)["client_id"]
    if claims.get("aud") != client_id:
        raise IDTokenError("aud is not this client")
    if claims.get("exp", 0) <= app_state.server.now():
        raise IDTokenError("expired")
    if nonce is not None and claims.get("nonce") != nonce:
        raise IDTokenError("nonce mismatch")
    return claims


def preferred_username(access_token: str, token_type: str) -> str | None:
    """``preferred_username`` from the userinfo endpoint, if it answers."""
    answer = call_userinfo(access_token, token_type)
    name = answer.body.get("preferred_username") if answer.status == 200 else None
    return name if isinstance(name, str) else None
