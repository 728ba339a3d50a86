"""What both stores share: the user's ``db`` session, one-transaction writes,
and row counts of bulk statements."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import update
from sqlalchemy.engine import CursorResult, Dialect
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from ..models import Models

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy


def rowcount(
    session: Session, statement: Executable, params: dict[str, Any] | None = None
) -> int:
    """Run a bulk UPDATE or DELETE; how many rows it touched."""
    result = session.execute(
        statement, params, execution_options={"synchronize_session": False}
    )
    return cast(CursorResult[Any], result).rowcount


class StoreBase:
    """Queries over one app's models, on the user's ``db`` session."""

    def __init__(self, db: SQLAlchemy, models: Models) -> None:
        self.db = db
        self.models = models
        self._dialect: Dialect | None = None

    @property
    def session(self) -> Session:
        return cast(Session, self.db.session)

    def current_session(self) -> Session:
        """The scoped session's current ``Session`` itself (not the proxy)."""
        return cast(Session, self.db.session())

    def dialect(self, session: Session) -> Dialect:
        """The dialect of the database the token tables live in.

        Looked up once: resolving the bind (Flask-SQLAlchemy's ``get_bind``)
        costs more than some of the statements it picks, and an app's
        engines, made by ``init_app``, keep their database.
        """
        if self._dialect is None:
            self._dialect = session.get_bind(mapper=self.models.refresh_token).dialect
        return self._dialect

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Commit on success, roll back on any error (and re-raise it).

        Yields the scoped session's current ``Session`` itself: each call
        through the ``db.session`` proxy looks the session up again.
        """
        session = self.current_session()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

    def end_session(self) -> None:
        """Remove the session at the end of a request, as Flask-SQLAlchemy's
        teardown does, even when the database went away meanwhile: its
        ``ROLLBACK`` then fails, and raised from a teardown that failure
        would turn a response already made into a 500. The broken
        connection is invalidated; the next request gets a new one."""
        try:
            self.db.session.remove()
        except (OperationalError, InterfaceError):
            self.db.session.registry.clear()

    def rollback(self) -> None:
        """End a transaction an error left open (the database may be gone)."""
        self.session.rollback()

    def revoke_matching(self, now: int, reason: str, **columns: str) -> int:
        """Revoke, in one commit, the live refresh and access tokens whose
        ``columns`` match; how many rows (see :meth:`revoke_in`)."""
        with self.transaction() as session:
            return self.revoke_in(session, now, reason, **columns)

    def revoke_in(self, session: Session, now: int, reason: str, **columns: str) -> int:
        """Revoke the live refresh and access tokens whose ``columns`` match,
        in ``session``'s transaction; how many rows. Refresh tokens record
        ``reason`` (see :mod:`..reasons`). A revoked token never replays (no
        grace for revocation), so its replay copy goes too."""
        count = 0
        for model in (self.models.refresh_token, self.models.access_token):
            extra: dict[str, Any] = (
                {"replay": None, "revoked_reason": reason}
                if model is self.models.refresh_token
                else {}
            )
            count += rowcount(
                session,
                update(model)
                .filter_by(revoked_at=None, **columns)
                .values(revoked_at=now, **extra),
            )
        return count
