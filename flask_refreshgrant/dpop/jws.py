"""The JOSE half of DPoP, and the only module of :mod:`.dpop` that imports
joserfc: read a proof's JWS, import its public key, check its signature,
and compute the key's RFC 7638 thumbprint — all through joserfc, no
hand-written JWS. Also which algorithms ``OAUTH2_DPOP_SIGNING_ALG_VALUES``
may name.

joserfc is a dependency of the package (and of Authlib). Should an
environment lack it all the same, :data:`AVAILABLE` is ``False`` and DPoP
is off; :mod:`.proofs` says so where a setting needs it.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from functools import lru_cache
from typing import Any

from .. import bounded_json
from ..errors import ConfigurationError

try:
    from joserfc import jws
    from joserfc.errors import JoseError
    from joserfc.jwk import JWKRegistry, RSAKey

    from ..jose_registry import jws_registry
except ImportError:  # pragma: no cover (the test suite has the extra)
    AVAILABLE = False
else:
    AVAILABLE = True

#: The JWS algorithms a proof may use: asymmetric only (RFC 9449 §4.2: no
#: MAC, no ``none``), as joserfc implements them.
ASYMMETRIC_ALGORITHMS = (
    *("ES256", "ES384", "ES512", "EdDSA", "Ed25519"),
    *("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
)
#: The ``typ`` header of a DPoP proof (RFC 9449 §4.2).
PROOF_TYPE = "dpop+jwt"
#: Longest ``DPoP`` header read at all: an RSA-4096 proof is about 1.5 KB.
MAX_PROOF_LENGTH = 8192
#: Smallest RSA key accepted for a proof (RFC 7518 §3.3: 2048 bits or larger).
MIN_RSA_BITS = 2048
#: Members of a JWK that only a private (or symmetric) key has (RFC 7518 §6).
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def algorithm_list(key: str, value: object) -> tuple[str, ...]:
    """The coercion of ``OAUTH2_DPOP_SIGNING_ALG_VALUES``: a list of
    :data:`ASYMMETRIC_ALGORITHMS` (or a string of them, separated by spaces or
    commas); empty turns DPoP off."""
    if isinstance(value, str):
        items: list[object] = list(value.replace(",", " ").split())
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        items = [value]
    if not all(isinstance(a, str) and a in ASYMMETRIC_ALGORITHMS for a in items):
        raise ConfigurationError(
            f"{key} must be a list of asymmetric JWS algorithms from "
            f"{', '.join(ASYMMETRIC_ALGORITHMS)}, got {value!r}."
        )
    return tuple(dict.fromkeys(str(a) for a in items))


class ProofSignatureError(Exception):
    """The proof's JWS is unusable; the message says why (ASCII, no quotes,
    fit for an ``error_description``)."""


@dataclasses.dataclass(frozen=True)
class SignedProof:
    """A proof whose signature checked out with the key in its header."""

    header: dict[str, Any]
    claims: dict[str, Any]
    #: The JWK SHA-256 thumbprint of that key (RFC 7638), base64url.
    jkt: str


def registry_for(algorithms: tuple[str, ...]) -> Any:
    """joserfc's JWS registry for ``algorithms`` as proofs use it (room for
    the key in the header, no warning for an algorithm the operator chose);
    the resource server checks JWT access tokens with it too."""
    return jws_registry(algorithms, key_in_header=True)


def _public_key(value: object) -> Any:
    """The public key of a ``jwk`` header: asymmetric, public members only."""
    if not isinstance(value, dict):
        raise ProofSignatureError("The DPoP proof has no jwk header.")
    if _PRIVATE_MEMBERS & value.keys():
        raise ProofSignatureError("The jwk of a DPoP proof must be a public key.")
    modulus = value.get("n")
    # Measured before joserfc imports the key, which would warn about it.
    if (
        value.get("kty") == "RSA"
        and isinstance(modulus, str)
        and len(modulus.rstrip("=")) * 6 < MIN_RSA_BITS
    ):
        raise ProofSignatureError("The RSA key of the DPoP proof is too small.")
    try:
        key = JWKRegistry.import_key(value)
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise ProofSignatureError("The jwk of the DPoP proof is invalid.") from error
    if key.key_type == "oct" or key.is_private:
        raise ProofSignatureError("The jwk of a DPoP proof must be a public key.")
    if isinstance(key, RSAKey) and key.public_key.key_size < MIN_RSA_BITS:
        raise ProofSignatureError("The RSA key of the DPoP proof is too small.")
    return key


class _Header(bytes):
    """A proof's encoded protected header, equal (and hashed) as its bytes,
    carrying its decoded ``jwk``: equal bytes mean an equal key."""

    jwk: object

    def __new__(cls, segment: bytes, jwk: object) -> _Header:
        header = super().__new__(cls, segment)
        header.jwk = jwk
        return header


@lru_cache(maxsize=1024)
def _cached_key(header: _Header) -> tuple[Any, str]:
    """The key of a proof's header and its thumbprint: a client sends the
    same header with every proof, so its key is imported once (a refused key
    is not cached)."""
    key = _public_key(header.jwk)
    return key, key.thumbprint()


def _check_json_bounds(value: str) -> None:
    """Refuse a proof whose header or claims are JSON nested deeper than 32
    levels or larger than 8 KiB (SPEC §13) before anything parses them:
    :func:`json.loads` recurses per level, and a header nested a thousand
    deep raised ``RecursionError`` inside joserfc."""
    segments = value.split(".")
    if len(segments) != 3:
        raise ProofSignatureError("The DPoP proof is not a JWT.")
    for segment, what in zip(segments[:2], ("header", "claims"), strict=False):
        try:
            data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        except (binascii.Error, ValueError) as error:
            raise ProofSignatureError("The DPoP proof is not a JWT.") from error
        try:
            bounded_json.check(data)
        except bounded_json.JSONLimitError as error:
            raise ProofSignatureError(
                f"The {what} of the DPoP proof is too large or too deeply nested."
            ) from error


def verify(value: str, algorithms: tuple[str, ...]) -> SignedProof:
    """Check the JWS of a DPoP proof (RFC 9449 §4.3, checks 2 to 6): a
    compact JWS of type ``dpop+jwt`` signed with an algorithm of
    ``algorithms`` by the public key in its own ``jwk`` header.

    :raises ProofSignatureError: anything else.
    """
    if len(value) > MAX_PROOF_LENGTH or not value.isascii():
        raise ProofSignatureError("The DPoP proof is not a JWT.")
    _check_json_bounds(value)
    registry = registry_for(algorithms)
    try:
        signed = jws.extract_compact(value.encode("ascii"), registry=registry)
        header: dict[str, Any] = signed.headers()
    except (JoseError, ValueError, TypeError) as error:
        raise ProofSignatureError("The DPoP proof is not a JWT.") from error
    if header.get("typ") != PROOF_TYPE:
        raise ProofSignatureError("The typ of a DPoP proof must be dpop+jwt.")
    if header.get("alg") not in algorithms:
        raise ProofSignatureError("The alg of the DPoP proof is not accepted here.")
    if "b64" in header or "crit" in header:
        raise ProofSignatureError("The DPoP proof has unsupported header members.")
    key, jkt = _cached_key(_Header(signed.segments["header"], header.get("jwk")))
    try:
        valid = jws.validate_compact(signed, key, registry=registry)
    except (JoseError, ValueError, TypeError) as error:
        raise ProofSignatureError(
            "The jwk of the DPoP proof does not fit its alg."
        ) from error
    if not valid:
        raise ProofSignatureError("The signature of the DPoP proof is invalid.")
    try:
        claims = bounded_json.loads(signed.payload)
    except bounded_json.JSONLimitError as error:
        raise ProofSignatureError("The DPoP proof has no JSON claims.") from error
    if not isinstance(claims, dict):
        raise ProofSignatureError("The DPoP proof has no JSON claims.")
    return SignedProof(header=header, claims=claims, jkt=jkt)
