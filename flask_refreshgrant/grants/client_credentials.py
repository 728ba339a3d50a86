"""The client credentials grant (RFC 6749 §4.4): an access token, never a
refresh token (§4.4.3)."""

from __future__ import annotations

from typing import ClassVar

from authlib.oauth2.rfc6749 import grants

from .common import GrantMixin


class ClientCredentialsGrant(GrantMixin, grants.ClientCredentialsGrant):  # type: ignore[misc]
    """Client credentials (RFC 6749 §4.4): an access token, never a refresh token.

    Confidential clients only: a public client has no credentials to present.
    """

    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [
        "client_secret_basic",
        "client_secret_post",
    ]
