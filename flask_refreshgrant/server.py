"""The Authlib ``AuthorizationServer`` subclass, one per app, wired from Settings.

It adds what Authlib leaves to the integrator at the token endpoint: parameters
from the POST body only, no repeated parameters, no credentials in the URL, a
form content type, a robust reading of the HTTP Basic header, and a token
generator whose lifetimes come from the (per-client) settings.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from functools import cached_property
from typing import Any, cast

from authlib.integrations.flask_oauth2 import (
    AuthorizationServer as FlaskAuthorizationServer,
)
from authlib.integrations.flask_oauth2.requests import (
    FlaskOAuth2Payload,
    FlaskOAuth2Request,
)
from authlib.oauth2.rfc6749.authenticate_client import _validate_client
from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
)
from flask import Response
from flask import request as flask_request
from flask.wrappers import Request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from .config import Settings
from .endpoints import IntrospectionEndpoint, RevocationEndpoint
from .grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    PasswordGrant,
    RefreshTokenGrant,
    S256CodeChallenge,
    announce_new_grant,
    issued_tokens,
    new_grant_refresh_expiry,
)
from .models import ClientMixin
from .security import generate_token
from .storage import Storage

#: The Flask endpoint name of the authorization endpoint.
AUTHORIZE_ENDPOINT = "refreshgrant.authorize"

#: Largest token request body accepted; real ones are a few hundred bytes.
MAX_TOKEN_REQUEST_BYTES = 16 * 1024

#: Parameters that must never travel in the URL of a token request.
_BODY_ONLY_PARAMETERS = frozenset(
    {
        "grant_type",
        "refresh_token",
        "code",
        "code_verifier",
        "redirect_uri",
        "username",
        "password",
        "client_id",
        "client_secret",
        "scope",
        "assertion",
        "client_assertion",
        "token",
    }
)

AuthenticateUser = Callable[[str, str], Any]
LoadUser = Callable[[str], Any]
GetUserId = Callable[[Any], str]


def default_get_user_id(user: Any) -> str:
    """``user.get_user_id()`` (Authlib's convention) if it exists, else ``user.id``."""
    getter = getattr(user, "get_user_id", None)
    return str(getter() if callable(getter) else user.id)


class BodyOnlyPayload(FlaskOAuth2Payload):  # type: ignore[misc]
    """OAuth parameters from the form body only, never the URL query."""

    @property
    def data(self) -> MultiDict[str, str]:
        return self._request.form  # type: ignore[no-any-return]


class TokenRequest(FlaskOAuth2Request):  # type: ignore[misc]
    """A token request read from the body only."""

    def __init__(self, request: Request) -> None:
        super().__init__(request)
        self.payload = BodyOnlyPayload(request)
        #: Set by the refresh grant when a grace period replays a response.
        self.replay_response: dict[str, Any] | None = None


_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _quoted(name: str) -> str:
    """A parameter name fit for ``error_description`` (RFC 6749 §5.2 allows
    only some ASCII there, and Authlib raises on anything else)."""
    return f"'{name}'" if _PLAIN_NAME.fullmatch(name) else "a parameter"


def _uses_basic(headers: Any) -> bool:
    """Whether the request tried HTTP Basic client authentication."""
    scheme = headers.get("Authorization", "").strip().partition(" ")[0]
    return bool(scheme.lower() == "basic")


def _basic_credentials(header: str) -> tuple[str, str] | None:
    """Decode ``Basic base64(id:secret)`` strictly; ``None`` if it is malformed."""
    _scheme, _, value = header.partition(" ")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep or not client_id or "\x00" in decoded:
        return None
    return client_id, secret


class AuthorizationServer(FlaskAuthorizationServer):  # type: ignore[misc]
    """One app's authorization server; holds that app's settings and storage."""

    def __init__(
        self,
        *,
        settings: Settings,
        storage: Storage,
        authenticate_user: AuthenticateUser | None,
        load_user: LoadUser,
        get_user_id: GetUserId,
        authorization_code: bool,
    ) -> None:
        super().__init__(query_client=storage.get_client)
        self.settings = settings
        self.storage = storage
        self.authenticate_user = authenticate_user
        self.load_user = load_user
        self.get_user_id = get_user_id
        self.scopes_supported = (
            list(settings.scopes_supported) if settings.scopes_supported else None
        )
        self.register_token_generator("default", self._generate_bearer_token)
        self.register_client_auth_method(
            "client_secret_basic", self._authenticate_basic
        )
        if authorization_code:
            self.register_grant(AuthorizationCodeGrant, [S256CodeChallenge()])
        self.register_grant(RefreshTokenGrant)
        self.register_grant(ClientCredentialsGrant)
        if authenticate_user is not None:
            self.register_grant(PasswordGrant)
        self.register_endpoint(RevocationEndpoint)
        self.register_endpoint(IntrospectionEndpoint)

    def now(self) -> int:
        return self.storage.now()

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
        policy = self.settings.policy_for(client)
        allowed = client.get_allowed_scope(scope)
        if scope and not allowed:
            raise InvalidScopeError()
        token: dict[str, Any] = {
            "access_token": generate_token(),
            "token_type": "Bearer",
            "expires_in": expires_in or policy.access_token_validity_period,
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

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Store the tokens of a fresh grant (password, client credentials);
        the refresh and authorization code grants store their own."""
        client: ClientMixin = request.client
        client_id = client.client_id  # read before the commit expires it
        user_id = None if request.user is None else self.get_user_id(request.user)
        now = self.now()
        issued = issued_tokens(token)
        refresh_expires_at = new_grant_refresh_expiry(
            issued, now, self.settings.policy_for(client)
        )
        grant_type = request.payload.grant_type
        family_id = self.storage.issue_new_grant(
            issued,
            client_id=client_id,
            user_id=user_id,
            grant_type=grant_type,
            now=now,
            refresh_expires_at=refresh_expires_at,
        )
        announce_new_grant(
            token,
            issued,
            now=now,
            refresh_expires_at=refresh_expires_at,
            family_id=family_id,
            client_id=client_id,
            user_id=user_id,
            grant_type=grant_type,
        )

    # -- client authentication ------------------------------------------------

    def _authenticate_basic(
        self, query_client: Any, request: Any
    ) -> ClientMixin | None:
        if not _uses_basic(request.headers):
            return None
        credentials = _basic_credentials(request.headers["Authorization"].strip())
        if credentials is None:
            raise InvalidClientError(
                status_code=401, description="Malformed HTTP Basic credentials."
            )
        client_id, secret = credentials
        client: ClientMixin = _validate_client(query_client, client_id, 401)
        return client if client.check_client_secret(secret) else None

    def authenticate_client(
        self, request: Any, methods: list[str], endpoint: str = "token"
    ) -> Any:
        """Authlib's, except that 401 is kept for clients that used HTTP Basic
        (RFC 6749 §5.2) and the rest get 400."""
        try:
            return super().authenticate_client(request, methods, endpoint)
        except InvalidClientError as error:
            if not _uses_basic(request.headers):
                error.status_code = 400
            raise

    # -- the token endpoint ---------------------------------------------------

    def create_oauth2_request(self, request: Any) -> FlaskOAuth2Request:
        if flask_request.endpoint == AUTHORIZE_ENDPOINT:
            # RFC 6749 §3.1: authorization requests come in the query (and
            # the consent form posts back to the same URL).
            return FlaskOAuth2Request(flask_request)
        return TokenRequest(flask_request)

    def check_form_request(self, request: Request) -> None:
        """Refuse what RFC 6749 §3.2 and §2.3 forbid before any grant or
        endpoint runs (token, revocation and introspection alike)."""
        if request.mimetype != "application/x-www-form-urlencoded":
            raise InvalidRequestError(
                "The token request must be 'application/x-www-form-urlencoded'."
            )
        for name in request.args:
            if name in _BODY_ONLY_PARAMETERS:
                raise InvalidRequestError(f"'{name}' must be sent in the request body.")
        form = request.form
        for name in form:
            values = form.getlist(name)
            if len(values) > 1:
                raise InvalidRequestError(f"Repeated {_quoted(name)}.")
            if any(ch < " " for ch in values[0]) or any(ch < " " for ch in name):
                raise InvalidRequestError(f"Invalid characters in {_quoted(name)}.")
        if "Authorization" in request.headers and "client_secret" in form:
            raise InvalidRequestError("Use one client authentication method only.")

    def handle_error_response(self, request: Any, error: OAuth2Error) -> Response:
        return cast(Response, super().handle_error_response(request, error))

    def _refuse_malformed(self) -> Response | None:
        """The error response for a malformed form request, else ``None``."""
        try:
            self.check_form_request(flask_request)
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
            return cast(Response, super().create_token_response(request))
        except OAuth2Error as error:  # InsecureTransportError from the request
            return self.handle_error_response(None, error)

    def create_endpoint_response(self, name: str, request: Any = None) -> Response:
        refused = self._refuse_malformed()
        if refused is not None:
            return refused
        try:
            return cast(Response, super().create_endpoint_response(name, request))
        except OAuth2Error as error:  # InsecureTransportError from the request
            return self.handle_error_response(None, error)
