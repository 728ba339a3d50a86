"""joserfc's JWS registry for a chosen list of algorithms: what DPoP proofs
(:mod:`.dpop.jws`) and this server's own JWTs (:mod:`.keys.jose`) share.

Imported only where joserfc is (both modules import it in the same ``try``
as joserfc itself).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from joserfc import jws
from joserfc.errors import UnsupportedAlgorithmError

#: Room in a protected header that carries a public key (a DPoP proof's
#: ``jwk``; an RSA-4096 key takes about 1 KB): joserfc's default is 512.
KEY_HEADER_LENGTH = 4096


class _Registry(jws.JWSRegistry):
    """joserfc's registry for the algorithms in use here, without its warning
    about ``EdDSA`` (which RFC 9864 deprecates for ``Ed25519``; OpenID
    Connect and RFC 9068 verifiers, and RFC 9449's examples, still use it)."""

    def get_alg(self, name: str) -> Any:
        if name not in self.algorithms or name not in (self.allowed or ()):
            raise UnsupportedAlgorithmError(f"Algorithm of '{name}' is not allowed")
        return self.algorithms[name]


class _KeyHeaderRegistry(_Registry):
    max_header_length = KEY_HEADER_LENGTH


@lru_cache(maxsize=32)
def jws_registry(algorithms: tuple[str, ...], *, key_in_header: bool = False) -> Any:
    """The registry allowing exactly ``algorithms``; ``key_in_header``: with
    room for a public key in the protected header (DPoP proofs)."""
    registry = _KeyHeaderRegistry if key_in_header else _Registry
    return registry(algorithms=list(algorithms), strict_check_header=False)
