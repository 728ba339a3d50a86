"""Protect your own routes with the access tokens this server issues::

    from flask_refreshgrant import current_token, require_oauth

    @app.get("/api/me")
    @require_oauth("PRODUCTION")
    def me():
        return {"user": current_token.user_id, "scope": current_token.scope}

Expired, revoked and unknown tokens get ``401`` with
``WWW-Authenticate: Bearer error="invalid_token"``; a request without a
token gets ``401`` with a bare ``WWW-Authenticate: Bearer`` (RFC 6750 §3.1).

DPoP-bound access tokens (RFC 9449 §7) come as ``Authorization: DPoP
<token>`` with a ``DPoP`` proof of the token's key that carries ``ath``; such
a token presented as ``Bearer`` is refused, and the refusals name the
accepted algorithms in a ``WWW-Authenticate: DPoP`` challenge.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from authlib.integrations.flask_oauth2 import ResourceProtector as _ResourceProtector
from authlib.integrations.flask_oauth2 import current_token
from authlib.integrations.flask_oauth2.errors import raise_http_exception
from authlib.integrations.flask_oauth2.requests import (
    FlaskJsonPayload,
    FlaskJsonRequest,
)
from authlib.integrations.flask_oauth2.signals import token_authenticated
from authlib.oauth2.rfc6749 import MissingAuthorizationError, TokenValidator
from authlib.oauth2.rfc6749.errors import OAuth2Error, UnsupportedTokenTypeError
from authlib.oauth2.rfc6750 import BearerTokenValidator as _BearerTokenValidator
from authlib.oauth2.rfc6750 import InsufficientScopeError, InvalidTokenError
from flask import Request, Response, abort, after_this_request, g, json
from flask import request as flask_request

from .dpop.proofs import DPoPChallenge, challenge, same_key
from .http_errors import DATABASE_UNAVAILABLE, database_unavailable
from .models import AccessTokenMixin
from .server.state import state

__all__ = [
    "BearerTokenValidator",
    "DPoPTokenValidator",
    "ResourceProtector",
    "current_token",
    "require_oauth",
]


def _live(token: AccessTokenMixin | None) -> bool:
    return (
        token is not None
        and not token.is_revoked()
        and token.expires_at > state().server.now()
    )


F = TypeVar("F", bound=Callable[..., Any])


class BearerTokenValidator(_BearerTokenValidator):  # type: ignore[misc]
    """Bearer tokens looked up by digest in the current app's access tokens."""

    def authenticate_token(self, token_string: str) -> AccessTokenMixin | None:
        return state().store.find_access_token(token_string)

    def validate_token(
        self, token: AccessTokenMixin | None, scopes: Any, request: Any
    ) -> None:
        if token is None or not _live(token):
            raise InvalidTokenError(
                realm=self.realm, extra_attributes=self.extra_attributes
            )
        if token.dpop_jkt is not None:
            # RFC 9449 §7.2: a bound token is no bearer token.
            raise DPoPChallenge(
                "invalid_token",
                "This access token is DPoP-bound: use the DPoP scheme with a proof.",
                state().server.dpop.algorithms,
            )
        if self.scope_insufficient(token.get_scope(), scopes):
            raise InsufficientScopeError()


class DPoPTokenValidator(TokenValidator):  # type: ignore[misc]
    """``Authorization: DPoP <token>`` (RFC 9449 §7.1): the proof is checked
    (``ath`` included) before the token is looked up, then the token must be
    live and bound to the proof's key; only then is the proof's ``jti``
    recorded."""

    TOKEN_TYPE = "dpop"

    def authenticate_token(self, token_string: str) -> AccessTokenMixin | None:
        dpop = state().server.dpop
        if not dpop.enabled:
            raise InvalidTokenError(description="DPoP is not enabled here.")
        proof = dpop.resource_proof(flask_request, token_string)
        if proof.next_nonce is not None:
            nonce = proof.next_nonce

            @after_this_request
            def hand_over_nonce(response: Response) -> Response:
                response.headers["DPoP-Nonce"] = nonce
                return response

        token = state().store.find_access_token(token_string)
        if (
            token is None
            or token.dpop_jkt is None
            or not same_key(token.dpop_jkt, proof)
        ):
            return None
        if _live(token):
            # Only for a live token bound to the proof's key: an anonymous
            # caller's proofs are never stored.
            dpop.remember_resource_proof(proof)
        return token

    def validate_token(
        self, token: AccessTokenMixin | None, scopes: Any, request: Any
    ) -> None:
        if token is None or not _live(token):
            raise DPoPChallenge(
                "invalid_token",
                "The access token is invalid, expired, revoked or not bound "
                "to this DPoP key.",
                state().server.dpop.algorithms,
            )
        if self.scope_insufficient(token.get_scope(), scopes):
            raise InsufficientScopeError()


class ResourceRequest(FlaskJsonRequest):  # type: ignore[misc]
    """Authlib's request of a protected route, except that ``uri`` is built
    when read: building a request's URL costs more Python than looking the
    token up, and no validator here reads it."""

    def __init__(self, request: Request) -> None:
        # Not Authlib's __init__, which builds the URL: the same attributes.
        self._request = request
        self.method = request.method
        self.headers = request.headers
        self.payload = FlaskJsonPayload(request)

    @property
    def uri(self) -> str:
        return str(self._request.url)


class ResourceProtector(_ResourceProtector):  # type: ignore[misc]
    """Authlib's protector, with a typed decorator."""

    def __call__(
        self, scopes: str | list[str] | None = None, optional: bool = False
    ) -> Callable[[F], F]:
        decorator: Callable[[F], F] = super().__call__(scopes, optional)
        return decorator

    def acquire_token(self, scopes: Any = None, **kwargs: Any) -> Any:
        """Authlib's, answering ``503`` when the database cannot be reached,
        and with a request whose URL is only built if a validator reads it
        (see :class:`ResourceRequest`)."""
        kwargs["scopes"] = scopes
        for claim, value in kwargs.items():
            if isinstance(value, str):
                kwargs[claim] = [value]
        try:
            token = self.validate_request(
                request=ResourceRequest(flask_request), **kwargs
            )
        except DATABASE_UNAVAILABLE as error:
            abort(database_unavailable(error, state().store.rollback))
        token_authenticated.send(self, token=token)
        g.authlib_server_oauth2_token = token
        return token

    def raise_error_response(self, error: OAuth2Error) -> None:
        """Authlib's, with two changes to its 401 answers.

        A request with no credentials this server takes (no
        ``Authorization`` header, or a scheme other than ``Bearer`` and
        ``DPoP``) gets a bare ``WWW-Authenticate: Bearer`` and an empty
        JSON object: RFC 6750 §3.1 says such an answer SHOULD NOT carry an
        error code (Authlib sends its own, ``missing_authorization``, which
        no RFC defines). And a missing or bad token's ``401`` also offers
        the DPoP scheme with its algorithms (RFC 9449 §7.1).
        """
        dpop = state().server.dpop
        if isinstance(error, MissingAuthorizationError | UnsupportedTokenTypeError):
            realm = f' realm="{error.realm}"' if error.realm else ""
            body: dict[str, Any] = {}
            headers = [
                *(h for h in error.get_headers() if h[0] != "WWW-Authenticate"),
                ("WWW-Authenticate", "Bearer" + realm),
            ]
        elif isinstance(error, InvalidTokenError):
            body = dict(error.get_body())
            headers = error.get_headers()
        else:
            super().raise_error_response(error)
        if dpop.enabled:
            headers.append(("WWW-Authenticate", challenge(dpop.algorithms)))
        raise_http_exception(error.status_code, json.dumps(body), headers)


#: Decorator guarding a route with an access token: a bearer token, or a
#: DPoP-bound one with its proof (optionally scopes).
require_oauth = ResourceProtector()
require_oauth.register_token_validator(BearerTokenValidator())
require_oauth.register_token_validator(DPoPTokenValidator())
