"""The JOSE half of signing keys, through joserfc: generate a key for an
algorithm, write its public and private JWKs, sign a JWT, check one.

joserfc is a requirement of the package (Authlib needs it too); in an
environment without it all the same, :data:`AVAILABLE` is ``False``: no keys,
so no JWT access tokens and no OpenID Connect (``init_app`` and registration
say so).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

try:
    from joserfc import jws
    from joserfc.errors import JoseError
    from joserfc.jwk import ECKey, JWKRegistry, OKPKey, RSAKey

    from ..jose_registry import jws_registry
except ImportError:  # pragma: no cover (the test suite has it)
    AVAILABLE = False
else:
    AVAILABLE = True

if TYPE_CHECKING:
    from joserfc.jwk import Key

#: What to install when :data:`AVAILABLE` is ``False``.
INSTALL_HINT = "pip install 'joserfc>=1.6' (a requirement of flask-refreshgrant)"

#: RSA keys this server makes (RFC 7518 §3.3: 2048 bits or larger).
RSA_BITS = 2048
#: Longest JWT read at all (a JWT access token is well under 2 KB).
MAX_JWT_LENGTH = 8192


def generate(alg: str) -> Key:
    """A new private key for ``alg`` (``ES256``, ``EdDSA``, ``RS256``, ``PS256``)."""
    key: Key
    if alg.startswith(("RS", "PS")):
        key = RSAKey.generate_key(RSA_BITS)
    elif alg == "EdDSA":
        key = OKPKey.generate_key("Ed25519")
    else:
        key = ECKey.generate_key("P-256")
    return key


def key_id(key: Key) -> str:
    """The key's RFC 7638 thumbprint, used as its ``kid``."""
    kid: str = key.thumbprint()
    return kid


def private_json(key: Key) -> str:
    return json.dumps(dict(key.as_dict(private=True)))


def public_jwk(key: Key, *, kid: str, alg: str) -> dict[str, Any]:
    """The public JWK as the JWKS publishes it: ``kid``, ``alg``, ``use``."""
    jwk = dict(key.as_dict(private=False))
    jwk.update(kid=kid, alg=alg, use="sig")
    return jwk


def import_key(jwk_json: str) -> Key:
    """A key from its JSON JWK (public or private)."""
    key: Key = JWKRegistry.import_key(json.loads(jwk_json))
    return key


def sign(key: Key, *, alg: str, kid: str, typ: str, claims: dict[str, Any]) -> str:
    """A compact JWS of ``claims`` with header ``alg``, ``kid``, ``typ``."""
    token: str = jws.serialize_compact(
        {"alg": alg, "kid": kid, "typ": typ},
        json.dumps(claims, separators=(",", ":")),
        key,
        registry=jws_registry((alg,)),
    )
    return token


def unverified_header(token: str) -> dict[str, Any] | None:
    """The protected header of a compact JWS, unchecked, or ``None``."""
    if len(token) > MAX_JWT_LENGTH or not token.isascii():
        return None
    try:
        header: dict[str, Any] = jws.extract_compact(
            token.encode("ascii"), registry=jws_registry(("none",))
        ).headers()
    except (JoseError, ValueError, TypeError):
        return None
    return header


def verify(token: str, key: Key, alg: str) -> dict[str, Any] | None:
    """The claims of ``token`` if ``key`` signed it with ``alg``, else ``None``."""
    registry = jws_registry((alg,))
    try:
        signed = jws.extract_compact(token.encode("ascii"), registry=registry)
        if signed.headers().get("alg") != alg:
            return None
        if not jws.validate_compact(signed, key, registry=registry):
            return None
        claims = json.loads(signed.payload)
    except (JoseError, ValueError, TypeError, UnicodeError):
        return None
    return claims if isinstance(claims, dict) else None
