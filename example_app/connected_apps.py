"""The authorization server's "Connected apps" page: what the logged-in user
has authorized, a Revoke button for each, and why the others ended.

Every active grant, newest first (client name, scopes, since when, last
refreshed, refresh-token expiry), then the grants that ended in the last
:data:`ENDED_DAYS` days with the reason in words — the answer to "why was I
logged out?" — each with a picture of its token family over time
(:mod:`.family_picture`, drawn twice: wide, and narrow for a phone). The grant
the token page holds is marked. From the extension's management API:
``oauth.list_grants``, ``oauth.grant_history`` and ``oauth.revoke_grant``
(recorded with reason ``user``). The Revoke forms are CSRF-protected like
every form of the app.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from flask_refreshgrant import GrantHistory, NotFoundError

from .demo_client import held_grant_id
from .family_picture import family_svg, family_text
from .family_timeline import NARROW_WIDTH, full_time
from .models import oauth
from .page_common import error_page
from .server_pages import current_user


def add_routes(web: Blueprint) -> None:
    """``/connected-apps`` and its Revoke buttons (``web.connected_apps``,
    ``web.revoke_connected_app``)."""
    web.add_url_rule("/connected-apps", view_func=connected_apps, methods=["GET"])
    web.add_url_rule(
        "/connected-apps/<grant_id>/revoke",
        view_func=revoke_connected_app,
        methods=["POST"],
    )


#: How long an ended grant stays on the page.
ENDED_DAYS = 30

#: Why a grant ended, in words, by ``revoked_reason`` (SPEC §7.1).
ENDED_BECAUSE = {
    "user": "You revoked it.",
    "reuse_detected": (
        "Reuse detected: a copy of a refresh token was used twice (an old one, "
        "after the app had already swapped it for a new one), so every token "
        "of this grant was revoked — someone else may have had a copy."
    ),
    "revocation": "The app revoked it (for instance when you signed out of it).",
    "cli": "An administrator revoked it.",
    "client_deleted": "The app was deleted.",
}
EXPIRED = "It expired: the app did not refresh it in time."


def ended_at(history: GrantHistory) -> int | None:
    """When the grant stopped working; ``None`` while it is active."""
    grant = history.grant
    if grant.status == "revoked":
        return history.revoked_at
    if grant.status == "expired":
        return grant.expires_at
    return None


def _entry(history: GrantHistory, now: int, current: str | None) -> dict[str, Any]:
    grant_id = history.grant.grant_id
    reason = history.revoked_reason
    return {
        "grant": history.grant,
        "current": grant_id == current,
        "ended_at": ended_at(history),
        "reason": reason or history.grant.status,
        "because": ENDED_BECAUSE.get(reason or "", EXPIRED),
        "picture": family_svg(history, now=now, element_id=f"family-{grant_id}"),
        "narrow_picture": family_svg(
            history, now=now, element_id=f"family-narrow-{grant_id}", width=NARROW_WIDTH
        ),
        "story": family_text(history),
    }


def connected_apps() -> ResponseReturnValue:
    user = current_user()
    if user is None:
        return redirect(url_for("web.login", next=url_for("web.connected_apps")))
    user_id = str(user.id)
    now = int(time.time())
    current = held_grant_id()
    active, ended = [], []
    # Newest first.
    for grant in reversed(oauth.list_grants(user_id=user_id, include_inactive=True)):
        history = oauth.grant_history(grant.grant_id, user_id=user_id)
        end = ended_at(history)
        if grant.status == "active":
            active.append(_entry(history, now, current))
        elif end is not None and end >= now - ENDED_DAYS * 86400:
            ended.append(_entry(history, now, current))
    ended.sort(key=lambda entry: -entry["ended_at"])
    return render_template(
        "connected_apps.html",
        apps=active,
        ended=ended,
        ended_days=ENDED_DAYS,
        utc=full_time,
    )


def revoke_connected_app(grant_id: str) -> ResponseReturnValue:
    """End one of the user's grants: its refresh and access tokens stop working."""
    user = current_user()
    if user is None:
        return redirect(url_for("web.login", next=url_for("web.connected_apps")))
    user_id = str(user.id)
    try:
        grant = oauth.grant_history(grant_id, user_id=user_id).grant
        oauth.revoke_grant(grant_id, user_id=user_id)
    except NotFoundError:
        return error_page(
            "No such connected app",
            "You have no connected app by that id (it may have been revoked already).",
            status=404,
        )
    flash(f"Access of {grant.client_name or grant.client_id} revoked.")
    return redirect(url_for("web.connected_apps"))
