"""Finishing a fresh grant — password, client credentials, authorization
code: store its tokens, say in the response how long the refresh token lives,
and send ``token_issued``. The one place every grant that starts a token
family goes through."""

from __future__ import annotations

from typing import Any, Protocol

from .. import signals
from ..config import TokenPolicy
from ..store.rows import IssuedTokens
from . import lifetimes


class StoreNewGrant(Protocol):
    """Stores a fresh grant's tokens (as :meth:`.TokenStore.issue_new_grant`
    does); returns the new family's id, ``None`` without a refresh token,
    and raises to refuse."""

    def __call__(
        self,
        issued: IssuedTokens,
        *,
        client_id: str,
        user_id: str | None,
        grant_type: str,
        now: int,
        refresh_expires_at: int | None,
    ) -> str | None: ...


def set_refresh_expires_in(
    token: dict[str, Any], expires_at: int | None, now: int
) -> None:
    """``refresh_token_expires_in``: omitted for a token that never expires."""
    expires_in = lifetimes.seconds_left(expires_at, now)
    if expires_in is not None:
        token["refresh_token_expires_in"] = expires_in


def finish_new_grant(
    token: dict[str, Any],
    *,
    policy: TokenPolicy,
    now: int,
    client_id: str,
    user_id: str | None,
    grant_type: str,
    store: StoreNewGrant,
    access_token_jkt: str | None = None,
    refresh_token_jkt: str | None = None,
    audience: str | None = None,
    resources: str | None = None,
) -> None:
    """Store the tokens of the response ``token`` through ``store``, then
    complete the response and announce it. ``*_jkt``: the DPoP keys the
    tokens are bound to (RFC 9449), if any; ``audience`` and ``resources``:
    the access token's audience and the grant's resources (RFC 8707), if
    any were named."""
    issued = IssuedTokens.from_response(
        token,
        access_token_jkt=access_token_jkt,
        refresh_token_jkt=refresh_token_jkt,
        audience=audience,
        resources=resources,
    )
    refresh_expires_at = (
        None
        if issued.refresh_token is None
        else lifetimes.first_refresh_expiry(now, policy)
    )
    family_id = store(
        issued,
        client_id=client_id,
        user_id=user_id,
        grant_type=grant_type,
        now=now,
        refresh_expires_at=refresh_expires_at,
    )
    if issued.refresh_token is not None:
        set_refresh_expires_in(token, refresh_expires_at, now)
    signals.emit(
        signals.token_issued,
        client_id=client_id,
        user_id=user_id,
        grant_type=grant_type,
        family_id=family_id if issued.refresh_token is not None else None,
        scope=issued.scope,
    )
