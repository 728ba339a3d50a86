"""The example app's own tables: users, their logins (the extension never
owns users) and the demo client's credentials."""

from __future__ import annotations

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Integer, String, bindparam, select
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from flask_refreshgrant import RefreshGrant

db = SQLAlchemy()
oauth = RefreshGrant()


#: What an unknown username's password is checked against: the same hash
#: function and cost as a real user's, so that a wrong username takes as
#: long as a wrong password (no timing oracle for which usernames exist).
DUMMY_PASSWORD_HASH = generate_password_hash("not the password of anyone")


class User(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "example_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


#: Built once: ``Session.get`` builds (and keys) a new SELECT on every miss.
_USER_BY_ID = select(User).where(User.id == bindparam("id"))


class Login(db.Model):  # type: ignore[name-defined,misc]
    """A login to the authorization server's pages: the session cookie holds
    only a random id whose digest is here, so that logging out (deleting the
    row) ends the login for every copy of the cookie (see ``logins.py``)."""

    __tablename__ = "example_login"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    expires_at: Mapped[int] = mapped_column(Integer)


class DemoCredentials(db.Model):  # type: ignore[name-defined,misc]
    """The demo clients of this database (``demo``; ``dpop``, the public
    client of ``example_app.dpop_client``), the confidential one's secret in
    clear so that the banner can show it again: a convenience of the example
    app only (the extension stores nothing but the secret's digest). Kept in
    the database, not the instance folder, so that each database has its own
    demo clients and switching ``DATABASE_URL`` back and forth creates none."""

    __tablename__ = "example_demo_credentials"

    #: One row per demo client: a second seeder (another host) cannot add one.
    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    #: ``None`` for a public client.
    client_secret: Mapped[str | None] = mapped_column(String(255), nullable=True)


def authenticate_user(username: str, password: str) -> User | None:
    user = db.session.query(User).filter_by(username=username).first()
    if user is None:
        check_password_hash(DUMMY_PASSWORD_HASH, password)  # same time: no oracle
        return None
    return user if user.check_password(password) else None


def load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    return db.session.scalars(_USER_BY_ID, {"id": int(user_id)}).first()
