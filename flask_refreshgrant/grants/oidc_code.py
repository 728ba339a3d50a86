"""Authlib's OpenID Connect extension of the code grant
(``authlib.oidc.core.grants.OpenIDCode``), as this server uses it; imported
only when joserfc is there (``authlib.oidc.core`` needs it)."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oidc.core.errors import (
    RequestNotSupportedError,
    RequestURINotSupportedError,
)
from authlib.oidc.core.grants import OpenIDCode as AuthlibOpenIDCode

from .oidc import CodeFacts, has_openid, id_token

#: Longest ``nonce`` accepted at ``/authorize`` (it is stored with the code).
MAX_NONCE_LENGTH = 512


class OpenIDCode(AuthlibOpenIDCode):  # type: ignore[misc]
    """Authlib's OpenID Connect extension of the code grant: an ``id_token``
    in the code exchange's response when the code's scope has ``openid``.

    ``prompt`` is not Authlib's business here: the app decides on login and
    consent after the request was validated, through
    :class:`~..endpoints.authorization_request.AuthorizationRequest`.
    Request Objects (``request``, ``request_uri``) are not supported, and
    refused as Core §6 says (the metadata says so too).
    """

    def __init__(self) -> None:
        super().__init__(require_nonce=False)

    def __call__(self, grant: Any) -> None:
        grant.register_hook("after_create_token_response", self.process_token)
        if has_openid(grant.request.payload.scope):
            grant.register_hook(
                "after_validate_authorization_request_payload",
                self.validate_openid_authorization_request,
            )

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        """A nonce is the client's replay check (Core §3.1.3.7); codes are
        single-use here, so a reused nonce replays nothing."""
        return False

    def validate_openid_authorization_request(
        self, grant: Any, redirect_uri: str
    ) -> None:
        super().validate_openid_authorization_request(grant, redirect_uri)
        data = grant.request.payload.data
        # Core §6.1 and §6.2: an OP that does not support Request Objects
        # MUST refuse them (ignoring one would drop what the client signed).
        if "request" in data:
            raise RequestNotSupportedError(redirect_uri=redirect_uri)
        if "request_uri" in data:
            raise RequestURINotSupportedError(redirect_uri=redirect_uri)
        nonce = data.get("nonce")
        if nonce is not None and len(nonce) > MAX_NONCE_LENGTH:
            raise InvalidRequestError(
                f"'nonce' is longer than {MAX_NONCE_LENGTH} characters.",
                redirect_uri=redirect_uri,
            )

    def process_token(self, grant: Any, response: Any) -> Any:
        _, token, _ = response
        code: CodeFacts | None = getattr(grant.request, "openid", None)
        if code is not None:
            token["id_token"] = id_token(
                grant.server,
                client_id=code.client_id,
                user_id=code.user_id,
                auth_time=code.auth_time,
                access_token=token["access_token"],
                nonce=code.nonce,
            )
        return token
