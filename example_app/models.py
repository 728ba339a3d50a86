"""The example app's own user table (the extension never owns users)."""

from __future__ import annotations

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Integer, String, bindparam, select
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from flask_refreshgrant import RefreshGrant

db = SQLAlchemy()
oauth = RefreshGrant()


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


def authenticate_user(username: str, password: str) -> User | None:
    user = db.session.query(User).filter_by(username=username).first()
    if user is not None and user.check_password(password):
        return user
    return None


def load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    return db.session.scalars(_USER_BY_ID, {"id": int(user_id)}).first()
