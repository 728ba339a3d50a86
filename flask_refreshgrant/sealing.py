"""Sealing secrets at rest with a key derived from the app's ``SECRET_KEY``.

One recipe for everything the database keeps that must stay unreadable to
someone holding only a copy of the database: an HKDF-SHA256 key derived from
``SECRET_KEY`` with a per-purpose ``info`` label, used as a Fernet key
(AES-128-CBC + HMAC-SHA256). The grace period's replay copies
(``grants/grace.py``) and the private halves of signing keys (``keys/``) use it.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["Fernet", "InvalidToken", "fernet", "usable_secret_key"]


@lru_cache(maxsize=16)
def fernet(secret_key: str | bytes, info: bytes) -> Fernet:
    """The Fernet of ``secret_key`` for the purpose ``info``."""
    material = secret_key.encode() if isinstance(secret_key, str) else secret_key
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        material
    )
    return Fernet(base64.urlsafe_b64encode(key))


def usable_secret_key(secret_key: object) -> bool:
    """Whether ``secret_key`` can derive a sealing key (a non-empty string or bytes)."""
    return isinstance(secret_key, str | bytes) and bool(secret_key)
