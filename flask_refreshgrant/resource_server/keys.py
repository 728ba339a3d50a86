"""The JOSE half of the resource server, through joserfc: the issuer's
JWKS, cached, and the checks of a JWT access token's header and signature
(RFC 9068 §4).

The key set is fetched when first needed and again after ``max_age``
seconds; a token signed with a key it does not hold (a ``kid`` it does not
know: the issuer rotated its keys) makes it fetch again, at most once per
``refetch_interval`` (a minute), so a flood of tokens with made-up ``kid``
values costs one request a minute. When a fetch fails, the keys already
held keep working.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from ..dpop import jws as dpop_jws
from .errors import TokenVerificationError, invalid_token, unavailable

try:
    from joserfc import jws
    from joserfc.errors import JoseError
    from joserfc.jwk import JWKRegistry
except ImportError:  # pragma: no cover (the test suite has the extra)
    AVAILABLE = False
else:
    AVAILABLE = True

#: RFC 9068 §2.1: the ``typ`` of a JWT access token.
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
#: Algorithms accepted by default: the issuer's (SPEC §10), asymmetric only.
DEFAULT_ALGORITHMS = ("ES256", "EdDSA", "RS256", "PS256")
#: The longest JWT read at all.
MAX_TOKEN_LENGTH = 16 * 1024


def looks_like_jwt(token: str) -> bool:
    """A compact JWS (three base64url parts), not an opaque token."""
    return token.count(".") == 2 and len(token) <= MAX_TOKEN_LENGTH


class KeyCache:
    """The issuer's public keys by ``kid`` (see the module's docstring)."""

    def __init__(
        self,
        fetch: Callable[[], dict[str, Any]],
        *,
        clock: Callable[[], float],
        max_age: float = 300,
        refetch_interval: float = 60,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self.max_age = max_age
        self.refetch_interval = refetch_interval
        self._keys: dict[str, Any] | None = None
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()
        #: How many times the JWKS was requested (for operators and tests).
        self.fetches = 0

    def _refresh(self, now: float) -> None:
        self._fetched_at = now
        self.fetches += 1
        try:
            document = self._fetch()
        except TokenVerificationError:
            if self._keys is None:
                raise
            return  # keep the keys held
        listed = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(listed, list):
            if self._keys is None:
                raise unavailable("The issuer's key set is malformed.")
            return  # keep the keys held
        keys: dict[str, Any] = {}
        for jwk in listed:
            if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
                continue
            if jwk.get("use", "sig") != "sig" or "d" in jwk or jwk.get("kty") == "oct":
                continue
            try:
                keys[jwk["kid"]] = JWKRegistry.import_key(jwk)
            except (JoseError, ValueError, TypeError, KeyError):
                continue  # one bad key does not hide the others
        self._keys = keys

    def key(self, kid: str) -> Any:
        """The key ``kid``; raises ``invalid_token`` if the issuer has none
        such, ``temporarily_unavailable`` if no key set could be fetched."""
        with self._lock:
            now = self._clock()
            if self._keys is None:
                # No key set yet: a failed fetch is retried once a
                # ``refetch_interval`` at most, not on every token.
                if now - self._fetched_at < self.refetch_interval:
                    raise unavailable("The issuer's keys could not be fetched.")
                self._refresh(now)
            elif now - self._fetched_at >= self.max_age:
                self._refresh(now)
            assert self._keys is not None
            found = self._keys.get(kid)
            if found is None and now - self._fetched_at >= self.refetch_interval:
                self._refresh(now)
                found = self._keys.get(kid)
        if found is None:
            raise invalid_token("The token is signed with an unknown key.")
        return found


def verified_claims(
    token: str, keys: KeyCache, algorithms: tuple[str, ...]
) -> dict[str, Any]:
    """The claims of JWT access token ``token`` once its header (RFC 9068
    ``typ``, an accepted ``alg``, a ``kid``) and signature check out; its
    claims are the caller's to check."""
    if not AVAILABLE:
        raise unavailable("JWT access tokens need joserfc (the dpop extra).")
    registry = dpop_jws.registry_for(algorithms)
    try:
        signed = jws.extract_compact(token.encode("ascii"), registry=registry)
        header: dict[str, Any] = signed.headers()
    except (JoseError, ValueError, TypeError, UnicodeError) as error:
        raise invalid_token("The token is not a JWT.") from error
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
        raise invalid_token("The token is not a JWT access token (typ at+jwt).")
    if header.get("alg") not in algorithms:
        raise invalid_token("The token's algorithm is not accepted here.")
    if "crit" in header or "b64" in header or "jwk" in header or "jku" in header:
        raise invalid_token("The token has unsupported header members.")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise invalid_token("The token names no key (kid).")
    key = keys.key(kid)
    try:
        valid = jws.validate_compact(signed, key, registry=registry)
    except (JoseError, ValueError, TypeError) as error:
        raise invalid_token("The token's key does not fit its algorithm.") from error
    if not valid:
        raise invalid_token("The token's signature is invalid.")
    try:
        claims = json.loads(signed.payload)
    except (ValueError, UnicodeDecodeError) as error:
        raise invalid_token("The token has no JSON claims.") from error
    if not isinstance(claims, dict):
        raise invalid_token("The token has no JSON claims.")
    return claims
