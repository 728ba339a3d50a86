""":class:`TokenVerifier`: is this access token, sent to this resource,
good? Framework-neutral — a Flask view, an ASGI MCP server or a worker
calls :meth:`TokenVerifier.verify` with the token (and, for DPoP, the
proof, method and URL) and gets the token's claims or one error type.

* **JWT access tokens** (RFC 9068): checked by signature against the
  issuer's JWKS (:mod:`.keys`), offline. A revoked JWT stays valid here
  until its ``exp``: keep their lifetime short.
* **Opaque tokens**: RFC 7662 introspection with this service's own client
  credentials (a client registered with ``--serves-resource``). An active
  answer is cached for ``introspection_cache_seconds`` (default 10, never
  past the token's ``exp``), so a revocation shows here within that time.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from . import http
from .errors import TokenVerificationError, invalid_token, unavailable
from .keys import DEFAULT_ALGORITHMS, KeyCache, looks_like_jwt, verified_claims
from .proofs import ProofChecker

#: Seconds of clock difference tolerated on ``exp``, ``nbf`` and ``iat``.
DEFAULT_LEEWAY = 30
#: Most introspection answers cached at once.
MAX_CACHED = 10_000


def metadata_url(issuer: str) -> str:
    """RFC 8414 §3.1: the well-known segment goes between host and path."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    return (
        f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{path}"
    )


def audience_list(value: object) -> list[str]:
    """``aud`` as a list (RFC 7519 §4.1.3: a string or an array)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


class TokenVerifier:
    """Verifies access tokens issued by ``issuer`` for ``audience`` (this
    resource's identifier, RFC 8707).

    :param jwks_uri: default: the issuer's metadata says (``jwks_uri``).
    :param introspection_endpoint: default: the issuer's metadata says.
    :param client_id: with ``client_secret``, this service's credentials
        for introspection; without them opaque tokens are refused.
    :param algorithms: JWS algorithms accepted for JWTs and DPoP proofs.
    :param jwks_max_age: seconds a fetched key set is used before the next
        fetch (the issuer serves it with at most 300 s of ``max-age``).
    :param jwks_refetch_interval: least seconds between two fetches caused
        by an unknown ``kid``.
    :param introspection_cache_seconds: how long an active introspection
        answer is reused (``0``: never).
    :param dpop_max_age: how old a DPoP proof's ``iat`` may be.
    :param timeout: seconds per request to the authorization server.
    :param clock: seconds since the epoch (tests inject one).
    """

    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        jwks_uri: str | None = None,
        introspection_endpoint: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
        jwks_max_age: float = 300,
        jwks_refetch_interval: float = 60,
        introspection_cache_seconds: float = 10,
        dpop_max_age: int = 60,
        leeway: int = DEFAULT_LEEWAY,
        timeout: float = 5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self._jwks_uri = jwks_uri
        self._introspection_endpoint = introspection_endpoint
        self._credentials = (
            (client_id, client_secret)
            if client_id is not None and client_secret is not None
            else None
        )
        self.algorithms = tuple(algorithms)
        self.introspection_cache_seconds = introspection_cache_seconds
        self.leeway = leeway
        self.timeout = timeout
        self._clock = clock
        self._metadata: dict[str, Any] | None = None
        self._metadata_lock = threading.Lock()
        self.keys = KeyCache(
            self._fetch_jwks,
            clock=clock,
            max_age=jwks_max_age,
            refetch_interval=jwks_refetch_interval,
        )
        self.proofs = ProofChecker(
            algorithms=self.algorithms, max_age=dpop_max_age, clock=clock
        )
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self._cache_lock = threading.Lock()

    # -- the authorization server's endpoints ----------------------------------

    def _endpoint(self, name: str, given: str | None) -> str:
        if given is not None:
            return given
        with self._metadata_lock:
            if self._metadata is None:
                document = http.get_json(
                    metadata_url(self.issuer), timeout=self.timeout
                )
                if str(document.get("issuer", "")).rstrip("/") != self.issuer:
                    raise unavailable("The issuer's metadata names another issuer.")
                self._metadata = document
            found = self._metadata.get(name)
        if not isinstance(found, str):
            raise unavailable(f"The issuer's metadata has no {name}.")
        return found

    def _fetch_jwks(self) -> dict[str, Any]:
        url = self._endpoint("jwks_uri", self._jwks_uri)
        return http.get_json(url, timeout=self.timeout)

    # -- verification ----------------------------------------------------------

    def verify(
        self,
        token: str,
        *,
        scheme: str = "Bearer",
        dpop_proof: str | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> dict[str, Any]:
        """The claims of ``token`` if it is a live access token of the
        issuer for this audience; else :class:`TokenVerificationError`.

        ``scheme`` is the ``Authorization`` scheme it came with. A token
        bound to a DPoP key (``cnf.jkt``) must come with ``scheme="DPoP"``
        and ``dpop_proof`` (the ``DPoP`` header), ``method`` and ``url`` of
        the request (RFC 9449 §7); a ``DPoP`` token must be bound.
        """
        if not token or not token.isascii() or " " in token:
            raise invalid_token("The access token is malformed.")
        if looks_like_jwt(token):
            claims = self._jwt_claims(token)
        else:
            claims = self._introspected(token)
        if self.audience not in audience_list(claims.get("aud")):
            raise invalid_token("The access token is not meant for this resource.")
        self._check_binding(claims, token, scheme, dpop_proof, method, url)
        return claims

    def _jwt_claims(self, token: str) -> dict[str, Any]:
        claims = verified_claims(token, self.keys, self.algorithms)
        now = self._clock()
        if claims.get("iss") != self.issuer:
            raise invalid_token("The access token is from another issuer.")
        exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf")
        if not isinstance(exp, int | float) or exp + self.leeway <= now:
            raise invalid_token("The access token has expired.")
        if not isinstance(iat, int | float) or iat - self.leeway > now:
            raise invalid_token("The access token's iat is missing or in the future.")
        if nbf is not None and (
            not isinstance(nbf, int | float) or nbf - self.leeway > now
        ):
            raise invalid_token("The access token is not valid yet.")
        for name in ("sub", "client_id", "jti"):  # RFC 9068 §2.2
            if not isinstance(claims.get(name), str):
                raise invalid_token(f"The access token has no {name}.")
        return claims

    def _introspected(self, token: str) -> dict[str, Any]:
        if self._credentials is None:
            raise invalid_token("Opaque access tokens are not accepted here.")
        key = hashlib.sha256(token.encode()).hexdigest()
        now = self._clock()
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is not None and cached[0] > now:
                return dict(cached[1])
        answer = http.post_form(
            self._endpoint("introspection_endpoint", self._introspection_endpoint),
            {"token": token, "token_type_hint": "access_token"},
            auth=self._credentials,
            timeout=self.timeout,
        )
        if answer.get("active") is not True:
            raise invalid_token("The access token is not active.")
        if answer.get("token_type") == "refresh_token":
            raise invalid_token("A refresh token is not an access token.")
        exp = answer.get("exp")
        if isinstance(exp, int | float) and exp <= now:
            raise invalid_token("The access token has expired.")
        claims = {k: v for k, v in answer.items() if k != "active"}
        claims.setdefault("iss", self.issuer)
        until = now + self.introspection_cache_seconds
        if isinstance(exp, int | float):
            until = min(until, exp)
        if until > now:
            with self._cache_lock:
                if len(self._cache) >= MAX_CACHED:
                    self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                    while len(self._cache) >= MAX_CACHED:
                        del self._cache[next(iter(self._cache))]
                self._cache[key] = (until, claims)
        return dict(claims)

    def _check_binding(
        self,
        claims: dict[str, Any],
        token: str,
        scheme: str,
        proof: str | None,
        method: str | None,
        url: str | None,
    ) -> None:
        cnf = claims.get("cnf")
        jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
        dpop = scheme.lower() == "dpop"
        if jkt is None:
            if dpop:
                raise invalid_token("The access token is not bound to a DPoP key.")
            return
        if not dpop or not isinstance(jkt, str):
            raise invalid_token("A DPoP-bound access token needs the DPoP scheme.")
        if proof is None or method is None or url is None:
            raise TokenVerificationError(
                "invalid_dpop_proof", "A DPoP proof is required with the DPoP scheme."
            )
        self.proofs.check(proof, jkt=jkt, access_token=token, method=method, url=url)


def has_scopes(claims: dict[str, Any], required: Iterable[str]) -> bool:
    """Whether the token's ``scope`` holds every scope of ``required``."""
    granted = claims.get("scope")
    held = set(granted.split()) if isinstance(granted, str) else set()
    return set(required) <= held
