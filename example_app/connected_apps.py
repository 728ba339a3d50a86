"""The authorization server's "Connected apps" page: what the logged-in user
has authorized, and a Revoke button for each.

Every active grant (client name, scopes, since when, last refreshed,
refresh-token expiry) with a picture of its token family over time
(:mod:`.family_picture`), from the extension's management API:
``oauth.list_grants``, ``oauth.grant_history`` and ``oauth.revoke_grant``
(recorded with reason ``user``). The Revoke forms are CSRF-protected like
every form of the app.
"""

from __future__ import annotations

import time

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from flask_refreshgrant import NotFoundError

from .family_picture import family_svg, family_text
from .family_timeline import full_time
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


def connected_apps() -> ResponseReturnValue:
    user = current_user()
    if user is None:
        return redirect(url_for("web.login", next=url_for("web.connected_apps")))
    user_id = str(user.id)
    now = int(time.time())
    apps = []
    for grant in oauth.list_grants(user_id=user_id):
        history = oauth.grant_history(grant.grant_id, user_id=user_id)
        apps.append(
            {
                "grant": grant,
                "picture": family_svg(
                    history, now=now, element_id=f"family-{grant.grant_id}"
                ),
                "story": family_text(history),
            }
        )
    return render_template("connected_apps.html", apps=apps, utc=full_time)


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
