"""Blinker signals the extension sends, so apps can audit token life cycles.

Every signal's sender is the Flask app; keyword arguments are listed with each.
Connect with ``token_issued.connect(receiver, app)`` or without a sender to
hear every app.
"""

from __future__ import annotations

from typing import Any

from blinker import Namespace, Signal
from flask import current_app

_signals = Namespace()

#: Tokens were issued by a grant. Kwargs: ``client_id``, ``user_id``,
#: ``grant_type``, ``family_id`` (``None`` without a refresh token), ``scope``.
token_issued = _signals.signal("refreshgrant.token-issued")

#: A refresh token was rotated. Kwargs: ``client_id``, ``user_id``,
#: ``family_id``, ``parent_id`` (row id of the rotated-out token).
refresh_token_rotated = _signals.signal("refreshgrant.refresh-token-rotated")

#: A rotated-out refresh token was presented again and its whole family was
#: revoked (RFC 9700 §4.14.2). Kwargs: ``client_id``, ``user_id``, ``family_id``.
refresh_token_reuse_detected = _signals.signal(
    "refreshgrant.refresh-token-reuse-detected"
)

#: Tokens were revoked on purpose. Kwargs: ``client_id``, ``user_id``,
#: ``family_id`` (``None`` for a lone access token), ``reason``.
token_revoked = _signals.signal("refreshgrant.token-revoked")

#: Within its grace period, a just-rotated refresh token was presented again
#: and got the identical response its first use got (nothing was issued).
#: Kwargs: ``client_id``, ``user_id``, ``family_id``.
grace_replay_served = _signals.signal("refreshgrant.grace-replay-served")

#: A username was locked after too many failed password checks (password
#: grant or ``check_password``). Kwargs: ``username``, ``lock_seconds``,
#: ``locked_until`` (seconds since the epoch).
password_lockout = _signals.signal("refreshgrant.password-lockout")


def emit(signal: Signal, **kwargs: Any) -> None:
    """Send ``signal`` with the current app as sender."""
    # No receiver connected, for any sender (the usual case): nothing to
    # send, and no need to look the app up.
    if not signal.receivers:
        return
    signal.send(current_app._get_current_object(), **kwargs)  # type: ignore[attr-defined]
