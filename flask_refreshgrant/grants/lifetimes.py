"""Pure arithmetic of refresh token expiry: no SQL, no HTTP.

All times are whole seconds since the epoch, read from the app's clock.
``None`` as an expiry means "never expires".
"""

from __future__ import annotations

from ..config import TokenPolicy
from ..models import RefreshTokenMixin


def _earliest(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _family_cap(family_issued_at: int, policy: TokenPolicy) -> int | None:
    if policy.refresh_token_absolute_lifetime is None:
        return None
    return family_issued_at + policy.refresh_token_absolute_lifetime


def first_refresh_expiry(now: int, policy: TokenPolicy) -> int | None:
    """Expiry of the first refresh token of a new family issued at ``now``."""
    if policy.refresh_token_validity_period is None:
        return _family_cap(now, policy)
    return _earliest(
        now + policy.refresh_token_validity_period, _family_cap(now, policy)
    )


def renewed_refresh_expiry(
    old: RefreshTokenMixin, now: int, policy: TokenPolicy
) -> int | None:
    """Expiry of the token that replaces ``old`` at ``now``.

    Sliding (a fresh full period) when the policy extends renewed tokens,
    otherwise the expiry ``old`` had; never past the family's absolute cap.
    """
    if not policy.extend_renewed_refresh_token_expiry:
        candidate = old.expires_at
    elif policy.refresh_token_validity_period is None:
        candidate = None
    else:
        candidate = now + policy.refresh_token_validity_period
    return _earliest(candidate, _family_cap(old.family_issued_at, policy))


def effective_refresh_expiry(
    token: RefreshTokenMixin, policy: TokenPolicy
) -> int | None:
    """When ``token`` stops being usable: its own expiry or the family cap."""
    return _earliest(token.expires_at, _family_cap(token.family_issued_at, policy))


def refresh_token_expired(
    token: RefreshTokenMixin, now: int, policy: TokenPolicy
) -> bool:
    expiry = effective_refresh_expiry(token, policy)
    return expiry is not None and now >= expiry


def seconds_left(expiry: int | None, now: int) -> int | None:
    """What ``refresh_token_expires_in`` says: ``None`` for a token that never expires."""
    return None if expiry is None else max(0, expiry - now)
