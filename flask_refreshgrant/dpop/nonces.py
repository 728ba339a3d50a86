"""Stateless DPoP nonces (RFC 9449 §8 and §9).

A nonce is an HMAC of the current time window under a key derived from the
app's ``SECRET_KEY``: nothing is stored, and every instance that shares the
``SECRET_KEY`` (and roughly the time) issues and accepts the same nonces.
A nonce is accepted during its own window and the next one, so it lives
between :data:`NONCE_WINDOW` and twice that; a client whose nonce comes from
the previous window is handed the current one (``DPoP-Nonce``) on success.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import ConfigurationError

#: Seconds one nonce is issued for.
NONCE_WINDOW = 300
_INFO = b"flask-refreshgrant dpop-nonce v1"


def check_secret_key(secret_key: object) -> None:
    """Raise unless ``secret_key`` can derive the nonce key."""
    if not isinstance(secret_key, str | bytes) or not secret_key:
        raise ConfigurationError(
            "SECRET_KEY must be set to use OAUTH2_DPOP_REQUIRE_NONCE: DPoP nonces "
            "are derived from it (and every instance must share it)."
        )


@lru_cache(maxsize=8)
def _key(secret_key: str | bytes) -> bytes:
    material = secret_key.encode() if isinstance(secret_key, str) else secret_key
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        material
    )


class Nonces:
    """One app's nonces (its ``SECRET_KEY`` is checked at ``init_app``)."""

    def __init__(self, secret_key: str | bytes) -> None:
        self._secret_key = secret_key

    def _for_window(self, window: int) -> str:
        mac = hmac.new(
            _key(self._secret_key), window.to_bytes(8, "big"), hashlib.sha256
        ).digest()[:16]
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def current(self, now: int) -> str:
        """The nonce to hand out at ``now``."""
        return self._for_window(now // NONCE_WINDOW)

    def check(self, nonce: object, now: int) -> str | None:
        """Whether ``nonce`` is accepted at ``now``: ``None`` if not, else the
        nonce to hand back (the current one) — equal to ``nonce`` unless it
        came from the previous window."""
        if not isinstance(nonce, str) or not nonce.isascii():
            return None
        window = now // NONCE_WINDOW
        current = self._for_window(window)
        if hmac.compare_digest(nonce.encode(), current.encode()):
            return current
        previous = self._for_window(window - 1)
        if hmac.compare_digest(nonce.encode(), previous.encode()):
            return current
        return None
