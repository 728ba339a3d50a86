"""The authorization server's own pages: login, logout and consent.

The authorization endpoint, ``{prefix}/authorize``, is the extension's: it
validates the request (client, redirect URI, scope, PKCE) and then hands it
to :func:`authorize` (passed to ``init_app(authorize=...)``), which logs the
user in through ``/login`` if needed and asks for consent.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from flask_refreshgrant import AuthorizationRequest

from . import demo_client
from .demo import DEMO_PASSWORD, DEMO_USERNAME, SCOPE_DESCRIPTIONS
from .logins import USER_KEY, current_user, end_login, login_time, start_login
from .models import authenticate_user, oauth
from .page_common import check_csrf

__all__ = ["USER_KEY", "add_routes", "authorize", "current_user"]


def add_routes(web: Blueprint) -> None:
    """``/login`` and ``/logout`` (endpoints ``web.login``, ``web.logout``)."""
    web.add_url_rule("/login", view_func=login, methods=["GET", "POST"])
    web.add_url_rule("/logout", view_func=logout, methods=["POST"])


def authorize(authorization: AuthorizationRequest) -> ResponseReturnValue:
    """Login and consent for ``{prefix}/authorize`` (``init_app(authorize=...)``).

    The extension has already validated the request (client, redirect URI,
    scope, PKCE); the consent form posts back to the same URL. OpenID
    Connect: ``prompt=login`` and ``max_age`` send the user to log in again,
    ``prompt=none`` gets ``login_required`` or ``consent_required`` (this app
    asks for consent every time), and the login time is the ``auth_time``.
    """
    user = current_user()
    logged_in_at = login_time()
    if authorization.login_required(user, logged_in_at):
        if authorization.prompt_none:
            return authorization.deny("login_required")
        resume = urlsplit(authorization.resume_url)
        next_url = resume.path + ("?" + resume.query if resume.query else "")
        return redirect(url_for("web.login", next=next_url))
    if authorization.prompt_none:
        return authorization.deny("consent_required")
    if request.method == "GET":
        return render_template(
            "consent.html",
            authorization=authorization,
            user=user,
            scope_descriptions=SCOPE_DESCRIPTIONS,
        )
    refused = check_csrf()
    if refused is not None:
        return refused
    if request.form.get("decision") == "approve":
        return authorization.approve(user, auth_time=logged_in_at)
    return authorization.deny()


def login() -> ResponseReturnValue:
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next_url=next_url, demo=_demo_hint())
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    # Behind the extension's password lock, shared with the password grant:
    # a wrong password, an unknown user and a locked username all get the
    # same page; a lock adds Retry-After.
    check = oauth.check_password(
        username, lambda: authenticate_user(username, password)
    )
    if check.user is None:
        page = render_template(
            "login.html",
            next_url=next_url,
            demo=_demo_hint(),
            username=username,
            error="Wrong username or password.",
        )
        headers = {}
        if check.retry_after is not None:
            headers["Retry-After"] = str(check.retry_after)
        return page, 401, headers
    start_login(check.user)
    return redirect(next_url)


def _demo_hint() -> tuple[str, str]:
    return DEMO_USERNAME, DEMO_PASSWORD


def logout() -> ResponseReturnValue:
    """End the login for real (every copy of the session cookie), and have
    the demo client revoke the tokens it holds (RFC 7009), as a client does
    when its user signs out."""
    demo_client.sign_out()
    end_login()
    session.clear()
    return redirect(url_for("web.index"))


def safe_next(target: str | None) -> str:
    """A local path to go back to after login; anything else goes home."""
    home = url_for("web.index")
    if not target or not target.startswith("/") or target.startswith("//"):
        return home
    # Browsers drop tabs and newlines from URLs and read a backslash as a
    # slash, so "/<tab>/evil.example" or "/<backslash>evil.example" would leave
    # the site.
    if "\\" in target or any(ch.isspace() or ord(ch) < 32 for ch in target):
        return home
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return home
    return target
