"""Flask's half of the resource server: :class:`ProtectedResource` serves
the RFC 9728 metadata of an API and guards its views with a
:class:`~.verifier.TokenVerifier`::

    protected = ProtectedResource(
        app,
        resource="https://api.example.com/notes",
        authorization_servers=["https://auth.example.com"],
        scopes_supported=["notes:read", "notes:write"],
        client_id=..., client_secret=...,   # for opaque tokens
    )

    @app.get("/notes")
    @protected.require("notes:read")
    def notes():
        return {"user": current_claims()["sub"]}
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Flask, Response, g, json, request

from .errors import TokenVerificationError
from .verifier import TokenVerifier, has_scopes

_View = TypeVar("_View", bound=Callable[..., Any])

#: Where the verified claims of the current request live in ``flask.g``.
_CLAIMS = "refreshgrant_resource_claims"
WELL_KNOWN = "/.well-known/oauth-protected-resource"


def current_claims() -> dict[str, Any]:
    """The verified claims of the current request's access token (inside a
    view guarded by :meth:`ProtectedResource.require`)."""
    claims: dict[str, Any] = g.get(_CLAIMS)
    if claims is None:
        raise RuntimeError("current_claims() outside a view guarded by require()")
    return claims


def metadata_url(resource: str) -> str:
    """RFC 9728 §3.1: the well-known segment between host and path."""
    parts = urlsplit(resource)
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{WELL_KNOWN}{path}"


class ProtectedResource:
    """An API of ``app`` that accepts access tokens for ``resource``.

    :param resource: this API's resource identifier (RFC 8707), the
        audience its tokens must name.
    :param authorization_servers: issuers whose tokens it accepts; the
        first one verifies them.
    :param verifier: default: a :class:`~.verifier.TokenVerifier` for the
        first issuer and ``resource``, built with ``verifier_options``
        (``client_id``, ``client_secret``, ``jwks_uri``, …).
    """

    def __init__(
        self,
        app: Flask,
        *,
        resource: str,
        authorization_servers: Iterable[str],
        scopes_supported: Iterable[str] = (),
        resource_name: str | None = None,
        verifier: TokenVerifier | None = None,
        **verifier_options: Any,
    ) -> None:
        self.resource = resource
        self.authorization_servers = list(authorization_servers)
        if not self.authorization_servers:
            raise ValueError("authorization_servers needs at least one issuer")
        self.scopes_supported = list(scopes_supported)
        self.resource_name = resource_name
        self.verifier = verifier or TokenVerifier(
            self.authorization_servers[0], resource, **verifier_options
        )
        self.metadata_url = metadata_url(resource)
        path = urlsplit(resource).path.rstrip("/")
        # One endpoint name per resource path; the plain well-known URL
        # answers for the first resource registered on the app.
        endpoint = "refreshgrant_protected_resource" + path.replace("/", "_")
        app.add_url_rule(WELL_KNOWN, endpoint, self.metadata_response)
        if path:  # RFC 9728 §3.1: the path-suffixed form too
            app.add_url_rule(
                WELL_KNOWN + path, endpoint + "_path", self.metadata_response
            )

    def metadata(self) -> dict[str, Any]:
        """The RFC 9728 document."""
        body: dict[str, Any] = {
            "resource": self.resource,
            "authorization_servers": self.authorization_servers,
            "bearer_methods_supported": ["header"],
            "dpop_signing_alg_values_supported": list(self.verifier.algorithms),
        }
        if self.scopes_supported:
            body["scopes_supported"] = self.scopes_supported
        if self.resource_name:
            body["resource_name"] = self.resource_name
        return body

    def metadata_response(self) -> Response:
        return Response(
            json.dumps(self.metadata()),
            headers={
                "Content-Type": "application/json",
                "Cache-Control": "max-age=300",
            },
        )

    def require(self, *scopes: str) -> Callable[[_View], _View]:
        """Guard a view: a valid token for this resource holding every one
        of ``scopes`` (none: any token for this resource)."""

        def decorate(view: _View) -> _View:
            @functools.wraps(view)
            def guarded(*args: Any, **kwargs: Any) -> Any:
                refused = self._authorize(scopes)
                if refused is not None:
                    return refused
                return view(*args, **kwargs)

            return cast(_View, guarded)

        return decorate

    def _authorize(self, scopes: tuple[str, ...]) -> Response | None:
        scheme, _, token = (
            request.headers.get("Authorization", "").strip().partition(" ")
        )
        if scheme.lower() not in ("bearer", "dpop") or not token.strip():
            return self._challenge(None, scopes)
        dpop = request.headers.getlist("DPoP")
        try:
            claims = self.verifier.verify(
                token.strip(),
                scheme=scheme,
                dpop_proof=dpop[0] if len(dpop) == 1 else ("," if dpop else None),
                method=request.method,
                url=request.base_url,
            )
        except TokenVerificationError as error:
            return self._challenge(error, scopes)
        if not has_scopes(claims, scopes):
            return self._challenge(
                TokenVerificationError(
                    "insufficient_scope", "The access token lacks a scope.", 403
                ),
                scopes,
            )
        setattr(g, _CLAIMS, claims)
        return None

    def _challenge(
        self, error: TokenVerificationError | None, scopes: tuple[str, ...]
    ) -> Response:
        """``401`` (or ``403``, ``503``) with ``WWW-Authenticate`` pointing
        at the metadata (RFC 9728 §5.1) and, with an error, its code (RFC
        6750 §3)."""
        parts = [f'resource_metadata="{self.metadata_url}"']
        body: dict[str, str] = {}
        status = 401
        if error is not None:
            parts.append(f'error="{error.error}"')
            parts.append(f'error_description="{error.description}"')
            body = {"error": error.error, "error_description": error.description}
            status = error.status
        if scopes:
            parts.append(f'scope="{" ".join(scopes)}"')
        headers = {"WWW-Authenticate": "Bearer " + ", ".join(parts)}
        if error is not None and error.error == "invalid_dpop_proof":
            headers["WWW-Authenticate"] = "DPoP " + ", ".join(
                [*parts, f'algs="{" ".join(self.verifier.algorithms)}"']
            )
        if status == 503:
            headers["Retry-After"] = "5"
        return Response(
            json.dumps(body or {"error": "invalid_token"} if error else {}),
            status=status,
            headers={
                **headers,
                "Content-Type": "application/json",
                "Cache-Control": "no-store",
            },
        )
