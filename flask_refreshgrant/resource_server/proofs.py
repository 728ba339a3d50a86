"""DPoP proofs at a resource server (RFC 9449 §7): a token bound to a key
(``cnf.jkt``) is accepted only with a fresh proof of that key for this very
request.

A proof's ``jti`` is remembered, in this process, for as long as the proof
could be accepted, so a replayed proof is refused by the process that saw
it; across several processes the proof's short lifetime (``max_age``) and
its binding to one method, URL and access token bound what a replay can do.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable

from ..dpop import jws as dpop_jws
from ..dpop.proofs import MAX_JTI_LENGTH, ath_matches, htu_matches, iat_problem
from .errors import TokenVerificationError

#: Most proofs remembered at once (the oldest are forgotten first).
MAX_REMEMBERED = 100_000


def _refused(description: str) -> TokenVerificationError:
    return TokenVerificationError("invalid_dpop_proof", description)


class ProofChecker:
    """Checks proofs for one :class:`~.verifier.TokenVerifier`."""

    def __init__(
        self,
        *,
        algorithms: tuple[str, ...],
        max_age: int,
        clock: Callable[[], float],
    ) -> None:
        self.algorithms = algorithms
        self.max_age = max_age
        self._clock = clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def check(
        self, proof: str, *, jkt: str, access_token: str, method: str, url: str
    ) -> None:
        """Raise ``invalid_dpop_proof`` unless ``proof`` is a fresh, unused
        proof of key ``jkt`` for ``method`` ``url`` with ``access_token``."""
        if "," in proof:
            raise _refused("Send exactly one DPoP header.")
        try:
            signed = dpop_jws.verify(proof, self.algorithms)
        except dpop_jws.ProofSignatureError as error:
            raise _refused(str(error)) from None
        if not hmac.compare_digest(signed.jkt.encode(), jkt.encode()):
            raise _refused("The DPoP proof is signed by another key than the token's.")
        claims = signed.claims
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
            raise _refused("The DPoP proof needs a jti.")
        if claims.get("htm") != method:
            raise _refused("The htm of the DPoP proof is not this request's method.")
        if not htu_matches(claims.get("htu"), [url]):
            raise _refused("The htu of the DPoP proof is not this request's URL.")
        if not ath_matches(claims, access_token):
            raise _refused("The ath of the DPoP proof does not match the token.")
        iat = claims.get("iat")
        now = self._clock()
        problem = iat_problem(iat, now, self.max_age)
        if problem is not None:
            raise _refused(problem)
        assert isinstance(iat, int | float)
        self._remember(f"{signed.jkt}.{jti}", iat + self.max_age + 1, now)

    def _remember(self, seen: str, until: float, now: float) -> None:
        with self._lock:
            if self._seen.get(seen, now) > now:
                raise _refused("This DPoP proof has been used before.")
            if len(self._seen) >= MAX_REMEMBERED:
                for old in [k for k, t in self._seen.items() if t <= now]:
                    del self._seen[old]
                while len(self._seen) >= MAX_REMEMBERED:
                    del self._seen[next(iter(self._seen))]
            self._seen[seen] = until
