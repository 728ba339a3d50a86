"""Logins that logging out really ends.

Flask's session is a signed cookie that the browser holds: clearing it at
logout does not stop a copy of the old cookie from working. So the cookie
carries a random login id, and the login itself is a row of
``example_login`` (:class:`~.models.Login`): :func:`end_login` deletes it,
and every copy of the cookie is logged out. A login also ends by itself
after :data:`LOGIN_LIFETIME` seconds.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from flask import session
from sqlalchemy import delete, select

from .models import Login, User, db, load_user

#: The logged-in user's id and the login's id, in the Flask session; the demo
#: client keeps its own state in the same session under its own keys.
USER_KEY = "user_id"
LOGIN_KEY = "login"
#: When the user logged in: OpenID Connect's ``auth_time``.
LOGIN_TIME_KEY = "logged_in_at"
#: Seconds a login lasts without a logout.
LOGIN_LIFETIME = 12 * 3600


def _digest(login_id: str) -> str:
    return hashlib.sha256(login_id.encode()).hexdigest()


def start_login(user: User) -> None:
    """Log ``user`` in: a new login row, its id in the session."""
    login_id = secrets.token_urlsafe(32)
    now = int(time.time())
    db.session.execute(delete(Login).where(Login.expires_at <= now))
    db.session.add(
        Login(
            digest=_digest(login_id), user_id=user.id, expires_at=now + LOGIN_LIFETIME
        )
    )
    db.session.commit()
    session[USER_KEY] = user.id
    session[LOGIN_KEY] = login_id
    session[LOGIN_TIME_KEY] = now


def login_time() -> int | None:
    """When this session's user logged in (seconds since the epoch)."""
    at = session.get(LOGIN_TIME_KEY)
    return at if isinstance(at, int) else None


def current_user() -> User | None:
    """The user of this session's login, while that login lasts."""
    user_id, login_id = session.get(USER_KEY), session.get(LOGIN_KEY)
    if not isinstance(user_id, int) or not isinstance(login_id, str):
        return None
    login = db.session.scalars(
        select(Login).where(Login.digest == _digest(login_id))
    ).first()
    if login is None or login.user_id != user_id or login.expires_at <= time.time():
        return None
    return load_user(str(user_id))


def end_login() -> None:
    """End this session's login for every copy of its cookie."""
    login_id = session.get(LOGIN_KEY)
    if isinstance(login_id, str):
        db.session.execute(delete(Login).where(Login.digest == _digest(login_id)))
        db.session.commit()
