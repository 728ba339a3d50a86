"""The grace period: the replay copy of a token response, sealed with a key derived
from the app's ``SECRET_KEY``.

Within ``OAUTH2_REFRESH_TOKEN_GRACE_PERIOD`` after a rotation, the rotated-out
refresh token presented again gets the identical response its first use got.
That response holds clear tokens, which hashed storage must never keep in
clear, so it is kept encrypted (Fernet: AES-128-CBC + HMAC-SHA256) and only
until the window closes.

The sealed copy also holds the ``scope`` parameter of the request that got
the response: a retry that asks for something else is not the same request,
and gets no replay (SPEC §6).
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import ConfigurationError
from ..models import RefreshTokenMixin

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


def requested_scope(scope: str | None) -> str:
    """A request's ``scope`` parameter as replays compare it: the scopes
    sorted, once each; omitted and empty are the same (RFC 6749 §3.2)."""
    return " ".join(sorted(set((scope or "").split())))


def seal(
    secret_key: object,
    response: dict[str, Any],
    *,
    scope: str | None,
    resource: tuple[str, ...] = (),
) -> str:
    """Encrypt a token response for later replay, with the ``scope`` and
    ``resource`` parameters of the request it answers."""
    sealed: dict[str, Any] = {"response": response, "scope": requested_scope(scope)}
    if resource:
        sealed["resource"] = sorted(resource)
    return _box(secret_key).encrypt(json.dumps(sealed).encode()).decode()


def unseal(secret_key: object, sealed: str) -> dict[str, Any] | None:
    """What :func:`seal` sealed, or ``None`` if the key has changed (or the
    copy predates the requested scope being kept with it)."""
    try:
        data = _box(secret_key).decrypt(sealed.encode())
    except InvalidToken:
        return None
    opened = json.loads(data)
    if not isinstance(opened, dict) or "response" not in opened:
        return None
    return opened


def replayed_response(
    token: RefreshTokenMixin,
    *,
    now: int,
    grace_period: int,
    secret_key: object,
    scope: str | None,
    resource: tuple[str, ...] = (),
) -> dict[str, Any] | None:
    """The identical response ``token``'s rotation returned, if the grace
    period after it still runs, its successor has not been used and the
    retry asks for the same ``scope`` and ``resource``.

    Lifetimes in it are counted down; nothing new is issued, so the grant
    never has two live refresh tokens. Whether the replayed access token is
    still live and the user still loads, the caller checks.
    """
    if token.replay is None or token.rotated_at is None or token.is_revoked():
        return None
    elapsed = now - token.rotated_at
    if elapsed >= grace_period:
        return None
    opened = unseal(secret_key, token.replay)
    if opened is None:  # SECRET_KEY changed since: nothing to replay
        return None
    if opened.get("scope") != requested_scope(scope):
        return None
    if opened.get("resource", []) != sorted(resource):
        return None
    response: dict[str, Any] = opened["response"]
    for key in ("expires_in", "refresh_token_expires_in"):
        if key in response:
            response[key] = max(0, response[key] - elapsed)
    return response
