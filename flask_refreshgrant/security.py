"""Token generation, SHA-256 digests and constant-time comparison.

Tokens and client secrets are 256-bit random values from :mod:`secrets`. Only
their SHA-256 digests are stored: a copy of the database yields nothing usable.
A fast digest is as safe as a slow password hash for high-entropy secrets that
the server generated itself, and keeps client authentication cheap.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

#: Bytes of randomness in every token and generated secret (256 bits).
TOKEN_BYTES = 32


def generate_token() -> str:
    """A new opaque token: 256 random bits, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def generate_client_id() -> str:
    """A new client identifier (not secret; 128 random bits is plenty).

    Hex, so that it never starts with ``-`` (which a command line would take
    for an option: ``flask oauth2 clients show CLIENT_ID``) and needs no
    quoting anywhere."""
    return secrets.token_hex(16)


def token_digest(token: str) -> str:
    """The hex SHA-256 digest stored (and looked up) in place of ``token``."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def digests_match(secret: str, digest: str | None) -> bool:
    """Whether ``secret`` hashes to ``digest``, compared in constant time."""
    if not digest:
        return False
    return hmac.compare_digest(token_digest(secret), digest)
