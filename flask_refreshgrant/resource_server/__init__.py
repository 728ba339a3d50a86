"""Protecting an API with tokens of a flask-refreshgrant server — in the
issuing app or in another service, another process, another database.

* :mod:`.verifier` — :class:`TokenVerifier`, framework-neutral:
  ``verify(token) -> claims``, raising :class:`TokenVerificationError`. JWT
  access tokens (RFC 9068) by the issuer's JWKS, opaque ones by RFC 7662
  introspection with the service's own client credentials; DPoP-aware
  (RFC 9449 ``cnf.jkt``);
* :mod:`.keys` — the JWKS cache (re-fetched at most once a minute on an
  unknown ``kid``) and the JWT checks, through joserfc;
* :mod:`.proofs` — DPoP proofs at a resource server (RFC 9449 §7);
* :mod:`.http` — the few JSON requests to the authorization server
  (standard library, bounded);
* :mod:`.protected` — :class:`ProtectedResource`: RFC 9728 metadata and the
  ``require`` decorator for Flask apps.
* :mod:`.mcp_sdk` — ``MCPTokenVerifier``, :class:`TokenVerifier` as the
  official ``mcp`` SDK's token verifier (the ``mcp`` extra; imported only
  by an app that asks for it, never from here).

JWTs and DPoP are checked with joserfc, a requirement of the package.

Imports: :mod:`..dpop` (a proof's JWS, the ``ath`` hash) and ``errors``;
nothing of the authorization server, so it runs where no ``RefreshGrant``
is set up. Nothing imports it but the app.
"""

from __future__ import annotations

from .errors import TokenVerificationError
from .protected import ProtectedResource, current_claims
from .verifier import TokenVerifier

__all__ = [
    "ProtectedResource",
    "TokenVerificationError",
    "TokenVerifier",
    "current_claims",
]
