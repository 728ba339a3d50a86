"""Why a token family was revoked: the ``reason`` the ``token_revoked``
signal carries and the ``revoked_reason`` a refresh token row keeps."""

from __future__ import annotations

from typing import Literal

RevokedReason = Literal["revocation", "reuse_detected", "cli", "user", "client_deleted"]

#: A client revoked one of its tokens at the RFC 7009 endpoint.
REVOCATION: RevokedReason = "revocation"
#: A rotated-out refresh token (RFC 9700 §4.14.2) or a used authorization
#: code (RFC 6749 §4.1.2) was presented again.
REUSE_DETECTED: RevokedReason = "reuse_detected"
#: An operator on the command line (``flask oauth2 revoke``, ``grants revoke``).
CLI: RevokedReason = "cli"
#: The app, on behalf of its user (``RefreshGrant.revoke_grant``).
USER: RevokedReason = "user"
#: The client was deleted (``RefreshGrant.delete_client``).
CLIENT_DELETED: RevokedReason = "client_deleted"

#: Every reason, in the order the README lists them.
REASONS: tuple[RevokedReason, ...] = (
    REVOCATION,
    REUSE_DETECTED,
    CLI,
    USER,
    CLIENT_DELETED,
)
