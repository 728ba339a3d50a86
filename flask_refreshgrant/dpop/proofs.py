"""DPoP (RFC 9449): proofs of possession at the token endpoint and at the
app's protected resources, for one app.

A request proves possession of a key with a ``DPoP`` header: a JWT signed
by that key, naming the request's method and URL, recent, used once, and
(with ``OAUTH2_DPOP_REQUIRE_NONCE``) carrying a server nonce. The JWS work is
:mod:`.jws`'s (joserfc), the nonces :mod:`.nonces`'s, the replay store
:mod:`..store.dpop`'s; this module checks the claims (RFC 9449 §4.3) and says
what is bound to what:

* access tokens are bound to the proof's key whenever a token request
  carries one (``token_type: DPoP``);
* refresh tokens are bound only for public clients (a confidential client's
  refresh token is already bound to its credentials, RFC 9449 §5), at the
  start of their family; a bound family keeps its key;
* a code issued for an authorization request with ``dpop_jkt`` (§10) is
  redeemable only with a proof of that key.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749.errors import OAuth2Error
from flask import Request

from ..config import Settings
from ..errors import ConfigurationError
from ..security import token_digest
from ..store.dpop import ProofReplayStore
from . import jws
from .nonces import Nonces, check_secret_key

#: Seconds a proof's ``iat`` may lie in the future (clock skew).
FUTURE_SKEW = 5
#: Longest ``jti`` accepted.
MAX_JTI_LENGTH = 256
#: What the extra that brings joserfc is called, for error messages.
INSTALL_HINT = "pip install 'joserfc>=1.6'"


#: The description of a proof presented again.
_REPLAYED = "This DPoP proof has been used before."


class InvalidDPoPProofError(OAuth2Error):  # type: ignore[misc]
    """``400 invalid_dpop_proof`` at the token endpoint (RFC 9449 §5)."""

    error = "invalid_dpop_proof"


class UseDPoPNonceError(OAuth2Error):  # type: ignore[misc]
    """``400 use_dpop_nonce`` with the nonce to use in ``DPoP-Nonce`` (§8)."""

    error = "use_dpop_nonce"

    def __init__(self, nonce: str, description: str) -> None:
        super().__init__(description)
        self.nonce = nonce

    def get_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = super().get_headers()
        return [*headers, ("DPoP-Nonce", self.nonce)]


class DPoPChallenge(OAuth2Error):  # type: ignore[misc]
    """``401`` at a protected resource with a ``WWW-Authenticate: DPoP``
    challenge naming the accepted algorithms (RFC 9449 §7.1), and the nonce
    to use for ``use_dpop_nonce`` (§9)."""

    status_code = 401

    def __init__(
        self,
        error: str,
        description: str,
        algorithms: tuple[str, ...],
        nonce: str | None = None,
    ) -> None:
        super().__init__(description, error=error)
        self.algorithms = algorithms
        self.nonce = nonce

    def get_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = super().get_headers()
        headers.append(("WWW-Authenticate", challenge(self.algorithms, self)))
        if self.nonce is not None:
            headers.append(("DPoP-Nonce", self.nonce))
        return headers


def challenge(algorithms: tuple[str, ...], error: OAuth2Error | None = None) -> str:
    """A ``WWW-Authenticate: DPoP`` value: the error, if any, and ``algs``."""
    parts = []
    if error is not None:
        parts.append(f'error="{error.error}"')
        if error.description:
            parts.append(f'error_description="{error.description}"')
    parts.append(f'algs="{" ".join(algorithms)}"')
    return "DPoP " + ", ".join(parts)


@dataclasses.dataclass(frozen=True)
class Proof:
    """A request's accepted proof of possession, its ``jti`` not yet
    recorded: :meth:`DPoP.remember_token_request_proof` and
    :meth:`DPoP.remember_resource_proof` record it once the request has
    passed the checks that cost a caller something (issue 19: anonymous
    proofs filled the replay table)."""

    #: The JWK SHA-256 thumbprint of the key (RFC 7638).
    jkt: str
    #: A newer nonce than the proof's, for ``DPoP-Nonce`` on success.
    next_nonce: str | None = None
    #: The digest of key and ``jti`` the replay store keeps, and until when.
    seen: str = ""
    seen_until: int = 0


class _Refused(Exception):
    """A refused proof, before it becomes the endpoint's error."""

    def __init__(
        self, description: str, error: str = "invalid_dpop_proof", nonce: str = ""
    ) -> None:
        super().__init__(description)
        self.description = description
        self.error = error
        self.nonce = nonce


def _normalized(url: str) -> tuple[str, str, str] | None:
    """Scheme, authority and path of ``url``, compared as RFC 3986 §6.2.2
    and §6.2.3 say (case of scheme and host, default ports); ``None`` if it
    is not an absolute http(s) URL. Query and fragment do not count (RFC
    9449 §4.3)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host or parts.username is not None:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        host = f"{host}:{port}"
    return scheme, host, parts.path or "/"


def htu_matches(htu: object, urls: Iterable[str]) -> bool:
    """Whether a proof's ``htu`` names one of ``urls`` (RFC 9449 §4.3: query
    and fragment aside, compared after RFC 3986 normalization)."""
    if not isinstance(htu, str):
        return False
    given = _normalized(htu)
    return given is not None and any(given == _normalized(url) for url in urls)


def access_token_hash(access_token: str) -> str:
    """``ath``: base64url of the SHA-256 of the access token (RFC 9449 §4.2)."""
    digest = hashlib.sha256(access_token.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def ath_matches(claims: Mapping[str, Any], access_token: str) -> bool:
    """Whether a proof's ``ath`` is the hash of ``access_token`` (§4.3)."""
    ath = claims.get("ath")
    return (
        isinstance(ath, str)
        and ath.isascii()
        and hmac.compare_digest(ath, access_token_hash(access_token))
    )


def iat_problem(iat: object, now: float, max_age: int) -> str | None:
    """What is wrong with a proof's ``iat`` at ``now`` (§4.3, §11.1), if
    anything: a proof is accepted from ``max_age`` seconds before ``now`` to
    :data:`FUTURE_SKEW` seconds after."""
    if type(iat) not in (int, float):
        return "The DPoP proof needs a numeric iat."
    assert isinstance(iat, int | float)
    if not now - max_age <= iat <= now + FUTURE_SKEW:
        return "The iat of the DPoP proof is too old or in the future."
    return None


def same_key(bound_jkt: str | None, proof: Proof | None) -> bool:
    """Whether a token or code bound to ``bound_jkt`` (``None``: unbound) may
    be used with ``proof``."""
    if bound_jkt is None:
        return True
    return proof is not None and hmac.compare_digest(
        proof.jkt.encode(), bound_jkt.encode()
    )


def check_settings(settings: Settings, secret_key: object) -> None:
    """At ``init_app``: a setting that needs DPoP needs joserfc and an
    algorithm, and nonces need ``SECRET_KEY``."""
    needs = {
        "OAUTH2_DPOP_REQUIRE_NONCE": settings.dpop_require_nonce,
        "OAUTH2_DPOP_BOUND_ACCESS_TOKENS": settings.policy.dpop_bound_access_tokens,
    }
    for key, value in needs.items():
        if not value:
            continue
        if not jws.AVAILABLE:
            raise ConfigurationError(
                f"{key} is {value!r} but DPoP needs joserfc: {INSTALL_HINT}"
            )
        if not settings.dpop_signing_alg_values:
            raise ConfigurationError(
                f"{key} is {value!r} but OAUTH2_DPOP_SIGNING_ALG_VALUES is empty, "
                "which turns DPoP off."
            )
    if settings.dpop_require_nonce:
        check_secret_key(secret_key)


class DPoP:
    """One app's DPoP: its settings, nonces and replay store."""

    def __init__(
        self,
        settings: Settings,
        replays: ProofReplayStore,
        clock: Callable[[], int],
        secret_key: object = None,
    ) -> None:
        #: Empty when DPoP is off (no joserfc, or no algorithm configured).
        self.algorithms = settings.dpop_signing_alg_values if jws.AVAILABLE else ()
        self.max_age = settings.dpop_proof_max_age
        self.issuer = settings.issuer
        self.replays = replays
        self._now = clock
        self.nonces: Nonces | None = None
        if settings.dpop_require_nonce and self.algorithms:
            assert isinstance(secret_key, str | bytes)  # see check_settings
            self.nonces = Nonces(secret_key)

    @property
    def enabled(self) -> bool:
        return bool(self.algorithms)

    def metadata(self) -> dict[str, Any]:
        """RFC 8414 metadata (RFC 9449 §5.1)."""
        if not self.enabled:
            return {}
        return {"dpop_signing_alg_values_supported": list(self.algorithms)}

    # -- the two places a proof is checked --------------------------------------

    def token_request_proof(self, request: Request) -> Proof | None:
        """The token request's proof, ``None`` without a ``DPoP`` header (or
        with DPoP off: the header is ignored and tokens are bearer tokens);
        its ``jti`` is recorded later (:meth:`remember_token_request_proof`).

        :raises InvalidDPoPProofError: a proof that does not pass.
        :raises UseDPoPNonceError: a proof without the current nonce.
        """
        # Looked up in the WSGI environ first: ``headers.getlist`` walks
        # every header, on every token request, most of which send no proof.
        if not self.enabled or "HTTP_DPOP" not in request.environ:
            return None
        values = request.headers.getlist("DPoP")
        try:
            return self._check(values, request, access_token=None)
        except _Refused as refused:
            if refused.error == "use_dpop_nonce":
                raise UseDPoPNonceError(refused.nonce, refused.description) from None
            raise InvalidDPoPProofError(refused.description) from None

    def resource_proof(self, request: Request, access_token: str) -> Proof:
        """The proof of a request to a protected resource with ``Authorization:
        DPoP <access_token>`` (RFC 9449 §7).

        :raises DPoPChallenge: no proof, or one that does not pass.
        """
        values = request.headers.getlist("DPoP")
        try:
            if not values:
                raise _Refused("A DPoP proof is required with the DPoP scheme.")
            return self._check(values, request, access_token=access_token)
        except _Refused as refused:
            raise DPoPChallenge(
                refused.error,
                refused.description,
                self.algorithms,
                refused.nonce or None,
            ) from None

    def remember_token_request_proof(self, proof: Proof) -> None:
        """Record the ``jti`` of a token request's proof, once the client
        has authenticated (RFC 9449 §11.1: each proof is accepted once).

        :raises InvalidDPoPProofError: the proof was used before.
        """
        if not self._record(proof):
            raise InvalidDPoPProofError(_REPLAYED)

    def remember_resource_proof(self, proof: Proof) -> None:
        """Record the ``jti`` of a resource request's proof, once it came
        with a live access token bound to its key.

        :raises DPoPChallenge: the proof was used before.
        """
        if not self._record(proof):
            raise DPoPChallenge("invalid_dpop_proof", _REPLAYED, self.algorithms)

    def current_nonce(self) -> str | None:
        """The nonce to hand out now, if nonces are required."""
        return None if self.nonces is None else self.nonces.current(self._now())

    # -- RFC 9449 §4.3 ----------------------------------------------------------

    def _check(
        self, values: list[str], request: Request, *, access_token: str | None
    ) -> Proof:
        # WSGI joins repeated headers with commas, which no JWS contains.
        if len(values) != 1 or "," in values[0]:
            raise _Refused("Send exactly one DPoP header.")
        try:
            signed = jws.verify(values[0], self.algorithms)
        except jws.ProofSignatureError as error:
            raise _Refused(str(error)) from None
        claims = signed.claims
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
            raise _Refused("The DPoP proof needs a jti.")
        if claims.get("htm") != request.method:
            raise _Refused("The htm of the DPoP proof is not this request's method.")
        if not self._htu_matches(claims.get("htu"), request):
            raise _Refused("The htu of the DPoP proof is not this request's URL.")
        now = self._now()
        next_nonce = self._check_nonce(claims.get("nonce"), now)
        iat = claims.get("iat")
        problem = iat_problem(iat, now, self.max_age)
        if problem is not None:
            raise _Refused(problem)
        assert isinstance(iat, int | float)
        if access_token is not None and not ath_matches(claims, access_token):
            raise _Refused("The ath of the DPoP proof does not match the token.")
        return Proof(
            jkt=signed.jkt,
            next_nonce=next_nonce,
            seen=token_digest(f"{signed.jkt}.{jti}"),
            seen_until=int(iat) + self.max_age + 1,
        )

    def _record(self, proof: Proof) -> bool:
        """Record the proof's ``jti``; ``False`` if it was recorded before."""
        return self.replays.record(proof.seen, expires_at=proof.seen_until)

    def _check_nonce(self, nonce: object, now: int) -> str | None:
        """The nonce to hand back, if it is newer than the proof's."""
        if self.nonces is None:
            return None
        current = self.nonces.check(nonce, now)
        if current is None:
            raise _Refused(
                "A DPoP proof with the server's nonce is required.",
                error="use_dpop_nonce",
                nonce=self.nonces.current(now),
            )
        return None if current == nonce else current

    def _htu_matches(self, htu: object, request: Request) -> bool:
        """``htu`` names this request's URL as the server sees it, or as the
        metadata advertises it (``OAUTH2_ISSUER`` plus the path) when a proxy
        in front changes the scheme or host."""
        candidates = [request.base_url]
        if self.issuer is not None:
            candidates.append(self.issuer + request.path)
        return htu_matches(htu, candidates)
