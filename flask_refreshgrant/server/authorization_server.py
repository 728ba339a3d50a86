"""The Authlib ``AuthorizationServer`` subclass, one per app, wired from Settings.

It registers the grants and the revocation and introspection endpoints,
reads token requests as :mod:`..endpoints.token_request` says, authenticates clients
with a strict HTTP Basic reading, and generates bearer tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any, cast

from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth2 import (
    AuthorizationServer as FlaskAuthorizationServer,
)
from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.authenticate_client import _validate_client
from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnsupportedResponseTypeError,
)
from flask import Request, Response
from flask import request as flask_request
from werkzeug.exceptions import HTTPException

from ..config import Settings
from ..dpop.proofs import DPoP
from ..endpoints.introspection import IntrospectionEndpoint
from ..endpoints.revocation import RevocationEndpoint
from ..endpoints.token_request import (
    TokenRequest,
    basic_credentials,
    check_form_request,
    uses_basic,
)
from ..grants.client_credentials import ClientCredentialsGrant
from ..grants.code import AuthorizationCodeGrant, DPoPKeyThumbprint, S256CodeChallenge
from ..grants.lockout import PasswordLockout
from ..grants.oidc import OFFLINE_ACCESS, OPENID
from ..grants.password import PasswordGrant
from ..grants.protocols import AuthenticateUser, GetUserId, LoadUser
from ..grants.refresh import RefreshTokenGrant
from ..grants.resources import ResourceIndicators
from ..issuer import issuer_url
from ..keys import jose
from ..keys.keyring import Keyring
from ..models import ClientMixin
from ..security import generate_token
from ..store.tokens import TokenStore

#: The one ``error_description`` of ``invalid_client``, whether the client is
#: unknown, its secret wrong or its credentials missing (RFC 6749 §5.2).
CLIENT_AUTHENTICATION_FAILED = "Client authentication failed."


def _current_request() -> Request:
    """The request object itself, not Flask's context-local proxy: the
    token request reads it dozens of times, and each read through the proxy
    looks the request up again."""
    request: Request = flask_request._get_current_object()  # type: ignore[attr-defined]
    return request


class AuthorizationServer(FlaskAuthorizationServer):  # type: ignore[misc]
    """One app's authorization server; holds that app's settings, token
    store and clock, and registers the grants and endpoints."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: TokenStore,
        lockout: PasswordLockout,
        clock: Callable[[], float],
        authenticate_user: AuthenticateUser | None,
        load_user: LoadUser,
        get_user_id: GetUserId,
        authorization_code: bool,
        dpop: DPoP,
        keys: Keyring,
    ) -> None:
        super().__init__(query_client=store.get_client)
        self.settings = settings
        self.store = store
        self.lockout = lockout
        self.dpop = dpop
        self.keys = keys
        self._clock = clock
        self.authenticate_user = authenticate_user
        self.load_user = load_user
        self.get_user_id = get_user_id
        # OpenID Connect's own scopes are known whatever the app lists.
        self.scopes_supported = (
            list(dict.fromkeys([*settings.scopes_supported, OPENID, OFFLINE_ACCESS]))
            if settings.scopes_supported
            else None
        )
        self.register_token_generator("default", self._generate_bearer_token)
        self.register_client_auth_method(
            "client_secret_basic", self._authenticate_basic
        )
        self.register_client_auth_method("client_secret_post", self._authenticate_post)
        if authorization_code:
            extensions: list[Any] = [
                S256CodeChallenge(),
                DPoPKeyThumbprint(),
                ResourceIndicators(),
            ]
            if jose.AVAILABLE:  # authlib.oidc.core needs joserfc
                from ..grants.oidc_code import OpenIDCode

                extensions.append(OpenIDCode())
            self.register_grant(AuthorizationCodeGrant, extensions)
        self.register_grant(RefreshTokenGrant)
        self.register_grant(ClientCredentialsGrant)
        if authenticate_user is not None:
            self.register_grant(PasswordGrant)
        self.register_endpoint(RevocationEndpoint)
        self.register_endpoint(IntrospectionEndpoint)

    def now(self) -> int:
        """The app's clock, in whole seconds since the epoch."""
        return int(self._clock())

    @cached_property
    def grant_types_supported(self) -> list[str]:
        return [grant.GRANT_TYPE for grant, _ in self._token_grants]

    # -- token generation and storage -----------------------------------------

    def _generate_bearer_token(
        self,
        grant_type: str,
        client: ClientMixin,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        assert expires_in is not None  # GrantMixin.generate_token passes it
        allowed = client.get_allowed_scope(scope)
        if scope and not allowed:
            raise InvalidScopeError()
        token: dict[str, Any] = {
            "access_token": generate_token(),
            "token_type": "Bearer",
            "expires_in": expires_in,
        }
        # A refresh token only for clients registered to use one, and never
        # for client credentials (RFC 6749 §4.4.3).
        if (
            include_refresh_token
            and user is not None
            and client.check_grant_type("refresh_token")
        ):
            token["refresh_token"] = generate_token()
        if allowed:
            token["scope"] = allowed
        return token

    # -- client authentication ------------------------------------------------

    def _authenticate_basic(
        self, query_client: Any, request: Any
    ) -> ClientMixin | None:
        if not uses_basic(request.headers):
            return None
        credentials = basic_credentials(request.headers["Authorization"].strip())
        if credentials is None:
            raise InvalidClientError(
                status_code=401, description="Malformed HTTP Basic credentials."
            )
        client_id, secret = credentials
        client: ClientMixin = _validate_client(query_client, client_id, 401)
        return client if client.check_client_secret(secret, now=self.now()) else None

    def _authenticate_post(self, query_client: Any, request: Any) -> ClientMixin | None:
        """Authlib's ``client_secret_post``, with the app's clock passed to
        the secret check (a rotated-out secret's overlap window)."""
        client_id = request.form.get("client_id")
        secret = request.form.get("client_secret")
        if not (client_id and secret):
            return None
        client: ClientMixin = _validate_client(query_client, client_id)
        return client if client.check_client_secret(secret, now=self.now()) else None

    def authenticate_client(
        self, request: Any, methods: list[str], endpoint: str = "token"
    ) -> Any:
        """Authlib's, except that 401 is kept for clients that used HTTP Basic
        (RFC 6749 §5.2) and the rest get 400, and that a body naming another
        client than the one that authenticated is ``invalid_request`` (SPEC
        §13; oauthlib refuses it too): which client is asking must not be in
        doubt."""
        try:
            client = super().authenticate_client(request, methods, endpoint)
        except InvalidClientError as error:
            if not uses_basic(request.headers):
                error.status_code = 400
            raise
        named = request.payload.client_id
        if named is not None and named != client.client_id:
            raise InvalidRequestError(
                "The client_id in the body is not the client that authenticated."
            )
        proof = getattr(request, "dpop", None)
        if proof is not None:
            # Only now: an anonymous caller's proofs are never stored.
            self.dpop.remember_token_request_proof(proof)
        return client

    # -- the token endpoint ---------------------------------------------------

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        """A :class:`.TokenRequest` (body only), unless the caller built the
        request itself (the authorization endpoint reads the query)."""
        if isinstance(request, OAuth2Request):
            return request
        return TokenRequest(_current_request())

    def get_authorization_grant(self, request: OAuth2Request) -> Any:
        """Authlib's, except that an unknown ``response_type`` that holds a
        character an ``error_description`` may not (a quote, a backslash,
        non-ASCII) is refused without echoing it: Authlib's description
        quotes it, and raised ``ValueError`` (a 500) building it."""
        payload = request.payload
        if not invalid_error_characters(payload.response_type or ""):
            return super().get_authorization_grant(request)
        # Redirected back as Authlib does (RFC 6749 §4.1.2.1): only to a
        # redirect URI known to be the client's.
        redirect_uri = None
        client = self.query_client(payload.client_id) if payload.client_id else None
        if client is not None:
            if not payload.redirect_uri:
                redirect_uri = client.get_default_redirect_uri()
            elif client.check_redirect_uri(payload.redirect_uri):
                redirect_uri = payload.redirect_uri
        raise UnsupportedResponseTypeError(
            None,
            description="The response type is not supported by the server.",
            redirect_uri=redirect_uri,
            state=payload.state,
        )

    def get_token_grant(self, request: OAuth2Request) -> Any:
        """Authlib's, except that a missing (or empty, RFC 6749 §3.2)
        ``grant_type`` is ``invalid_request``: only a present but unknown
        one is ``unsupported_grant_type`` (§5.2)."""
        if not request.payload.grant_type:
            raise InvalidRequestError("Missing 'grant_type' in request.")
        return super().get_token_grant(request)

    def handle_error_response(self, request: Any, error: OAuth2Error) -> Response:
        """Authlib's, with one description for every ``invalid_client``
        (no oracle for which client ids exist) and ``iss`` (RFC 9207) on an
        error redirected back to the client."""
        if isinstance(error, InvalidClientError):
            error.description = CLIENT_AUTHENTICATION_FAILED
        if error.redirect_uri:
            error.redirect_uri = add_params_to_uri(
                error.redirect_uri, [("iss", issuer_url(self.settings))]
            )
        return cast(Response, super().handle_error_response(request, error))

    def _refuse_malformed(self) -> Response | None:
        """The error response for a malformed form request, else ``None``."""
        try:
            check_form_request(_current_request())
        except HTTPException:
            # The body could not be parsed (too large, malformed).
            return self.handle_error_response(
                None, InvalidRequestError("Malformed or oversized request body.")
            )
        except OAuth2Error as error:
            return self.handle_error_response(None, error)
        return None

    def create_token_response(self, request: Any = None) -> Response:
        refused = self._refuse_malformed()
        if refused is not None:
            return refused
        try:
            token_request = self._token_request_with_proof()
            response = cast(Response, super().create_token_response(token_request))
        except OAuth2Error as error:
            # InsecureTransportError from the request; a missing grant_type.
            return self.handle_error_response(None, error)
        proof = token_request.dpop
        if proof is not None and proof.next_nonce and response.status_code == 200:
            response.headers["DPoP-Nonce"] = proof.next_nonce
        return response

    def _token_request_with_proof(self) -> TokenRequest:
        """The token request, with its DPoP proof checked (RFC 9449 §5)
        before any grant reads or writes anything; its ``jti`` is recorded
        once the client has authenticated (:meth:`authenticate_client`)."""
        request = _current_request()
        token_request = TokenRequest(request)
        token_request.dpop = self.dpop.token_request_proof(request)
        return token_request

    def create_endpoint_response(self, name: str, request: Any = None) -> Response:
        refused = self._refuse_malformed()
        if refused is not None:
            return refused
        try:
            return cast(Response, super().create_endpoint_response(name, request))
        except OAuth2Error as error:  # InsecureTransportError from the request
            return self.handle_error_response(None, error)
