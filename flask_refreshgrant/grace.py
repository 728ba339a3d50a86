"""The grace period: the replay copy of a token response, sealed with a key derived
from the app's ``SECRET_KEY``.

Within ``OAUTH2_REFRESH_TOKEN_GRACE_PERIOD`` after a rotation, the rotated-out
refresh token presented again gets the identical response its first use got.
That response holds clear tokens, which hashed storage must never keep in
clear, so it is kept encrypted (Fernet: AES-128-CBC + HMAC-SHA256) and only
until the window closes.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import ConfigurationError
from .models import RefreshTokenMixin

_INFO = b"flask-refreshgrant grace-period replay v1"


@lru_cache(maxsize=8)
def _fernet(secret_key: str | bytes) -> Fernet:
    material = secret_key.encode() if isinstance(secret_key, str) else secret_key
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        material
    )
    return Fernet(base64.urlsafe_b64encode(key))


def check_secret_key(secret_key: object) -> None:
    """Raise unless ``secret_key`` can derive the replay key."""
    if not isinstance(secret_key, str | bytes) or not secret_key:
        raise ConfigurationError(
            "SECRET_KEY must be set to use OAUTH2_REFRESH_TOKEN_GRACE_PERIOD: "
            "the replay copy of a token response is encrypted with a key derived "
            "from it (and every instance must share it)."
        )


def _box(secret_key: object) -> Fernet:
    check_secret_key(secret_key)
    assert isinstance(secret_key, str | bytes)
    return _fernet(secret_key)


def seal(secret_key: object, response: dict[str, Any]) -> str:
    """Encrypt a token response for later replay."""
    return _box(secret_key).encrypt(json.dumps(response).encode()).decode()


def unseal(secret_key: object, sealed: str) -> dict[str, Any] | None:
    """The response sealed earlier, or ``None`` if the key has changed."""
    try:
        data = _box(secret_key).decrypt(sealed.encode())
    except InvalidToken:
        return None
    response: dict[str, Any] = json.loads(data)
    return response


def replayed_response(
    token: RefreshTokenMixin, *, now: int, grace_period: int, secret_key: object
) -> dict[str, Any] | None:
    """The identical response ``token``'s rotation returned, if the grace
    period after it still runs and its successor has not been used.

    Lifetimes in it are counted down; nothing new is issued, so the grant
    never has two live refresh tokens.
    """
    if token.replay is None or token.rotated_at is None or token.is_revoked():
        return None
    elapsed = now - token.rotated_at
    if elapsed >= grace_period:
        return None
    response = unseal(secret_key, token.replay)
    if response is None:  # SECRET_KEY changed since: nothing to replay
        return None
    for key in ("expires_in", "refresh_token_expires_in"):
        if key in response:
            response[key] = max(0, response[key] - elapsed)
    return response
