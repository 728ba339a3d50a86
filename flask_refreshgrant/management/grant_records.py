"""Pure reading of token families into :mod:`..records`: no SQL, no HTTP.

A grant is *active* while its newest refresh token is live; a token's
status is whichever of rotation, expiry and revocation came first.
Expiry is the effective one (:func:`..grants.lifetimes.effective_refresh_expiry`:
the token's own, or the family's absolute lifetime if sooner) under the
client's policy as it is now.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..config import TokenPolicy
from ..grants import lifetimes
from ..models import RefreshTokenMixin
from ..reasons import REASONS
from ..records import (
    GrantHistory,
    GrantRecord,
    GrantStatus,
    RefreshTokenRecord,
    TokenStatus,
)
from ..store.grants import FamilyRow

_GRANT_STATUS: dict[TokenStatus, GrantStatus] = {
    "live": "active",
    "expired": "expired",
    "revoked": "revoked",
    # The newest token of a family is never rotated out (its successor
    # would be newer); should one be, the grant cannot be used any more.
    "rotated": "revoked",
}


def token_status(
    token: RefreshTokenMixin, policy: TokenPolicy, now: int
) -> TokenStatus:
    """How ``token`` ended, if it did by ``now``: the first of rotation,
    expiry and revocation (a tie goes in that order: a token expired at the
    second it was revoked was already unusable)."""
    expiry = lifetimes.effective_refresh_expiry(token, policy)
    ends: list[tuple[int, int, TokenStatus]] = []
    if token.rotated_at is not None:
        ends.append((token.rotated_at, 0, "rotated"))
    if expiry is not None and expiry <= now:
        ends.append((expiry, 1, "expired"))
    if token.revoked_at is not None:
        ends.append((token.revoked_at, 2, "revoked"))
    return min(ends)[2] if ends else "live"


def token_record(
    token: RefreshTokenMixin, policy: TokenPolicy, now: int
) -> RefreshTokenRecord:
    return RefreshTokenRecord(
        issued_at=token.issued_at,
        expires_at=lifetimes.effective_refresh_expiry(token, policy),
        rotated_at=token.rotated_at,
        revoked_at=token.revoked_at,
        status=token_status(token, policy, now),
    )


def grant_record(family: FamilyRow, policy: TokenPolicy, now: int) -> GrantRecord:
    """One family as ``grants list`` shows it.

    Each refresh adds an access token, and with rotation a refresh token
    too: the refresh count is whichever of the two counts says more (with
    renewal off only access tokens tell, and ``purge`` deletes expired ones).
    """
    head = family.head
    refreshes = max(family.refresh_tokens - 1, family.access_tokens - 1, 0)
    return GrantRecord(
        grant_id=head.family_id,
        client_id=head.client_id,
        client_name=None if family.client is None else family.client.client_name,
        user_id=head.user_id,
        scope=head.scope,
        created_at=head.family_issued_at,
        last_refreshed_at=family.last_issued_at if refreshes else None,
        refresh_count=refreshes,
        expires_at=lifetimes.effective_refresh_expiry(head, policy),
        status=_GRANT_STATUS[token_status(head, policy, now)],
    )


def grant_history(
    family: FamilyRow,
    tokens: Sequence[RefreshTokenMixin],
    policy: TokenPolicy,
    now: int,
) -> GrantHistory:
    """A family and each of its refresh tokens, in issue order, with when
    and why the family was revoked."""
    revoked = [token for token in tokens if token.revoked_at is not None]
    last = max(
        revoked, key=lambda token: (token.revoked_at or 0, token.id), default=None
    )
    reason = None if last is None else last.revoked_reason
    return GrantHistory(
        grant=grant_record(family, policy, now),
        tokens=tuple(token_record(token, policy, now) for token in tokens),
        revoked_at=None if last is None else last.revoked_at,
        revoked_reason=reason if reason in REASONS else None,
    )
