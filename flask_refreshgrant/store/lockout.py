"""The password lock's SQL: one row per username (by digest) that failed a
password check.

Counting a failure is one statement, ``INSERT … ON CONFLICT DO UPDATE …
WHERE the row is not locked … RETURNING``: the database applies it to the
latest committed row under its row lock, so instances counting failures of
one username at once never lose a count, and a failure that arrives while
the username is locked (by this request's lock or a concurrent one)
changes nothing. PostgreSQL and SQLite (3.24 or later) run it.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Integer, bindparam, case, delete, null, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from ..models import Models, PasswordLockoutMixin
from .base import StoreBase, rowcount

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy


@dataclasses.dataclass(frozen=True)
class LockoutRow:
    """What a password check reads before verifying a password."""

    locked_until: int | None


@dataclasses.dataclass(frozen=True)
class FailureCounted:
    """The row after a failure was counted (or found locked)."""

    #: When the username's lock ends; ``None``: not locked.
    locked_until: int | None
    #: This failure started the lock (the ``password_lockout`` signal fires).
    lock_started: bool
    #: Length of the lock in force (``0``: never locked).
    lock_seconds: int


def _upsert_insert(dialect: Dialect) -> Any:
    if dialect.name == "postgresql":
        return postgresql.insert
    if dialect.name == "sqlite":
        return sqlite.insert
    raise NotImplementedError(
        "the password lock counts failures with INSERT … ON CONFLICT, which "
        f"flask-refreshgrant runs on PostgreSQL and SQLite, not {dialect.name}; "
        "set OAUTH2_PASSWORD_MAX_FAILURES = 0 and protect the password grant "
        "another way"
    )


class LockoutStore(StoreBase):
    """Reads and writes of the password lock table."""

    def __init__(self, db: SQLAlchemy, models: Models) -> None:
        super().__init__(db, models)
        assert models.password_lockout is not None  # models.complete_models
        self.model: type[PasswordLockoutMixin] = models.password_lockout
        self._count_failure: dict[str, Any] = {}

    def read(self, username_digest: str) -> LockoutRow | None:
        """The username's row, if it has one."""
        model = self.model
        found = self.session.execute(
            select(model.locked_until).where(model.username_digest == username_digest)
        ).first()
        return None if found is None else LockoutRow(found[0])

    def forget(self, username_digest: str, *, now: int) -> None:
        """A successful check: the count starts again from zero (a lock
        that a concurrent failure has just started stays)."""
        model = self.model
        with self.transaction() as session:
            rowcount(
                session,
                delete(model).where(
                    model.username_digest == username_digest,
                    or_(model.locked_until.is_(None), model.locked_until <= now),
                ),
            )

    def count_failure(
        self,
        username_digest: str,
        *,
        now: int,
        max_failures: int,
        first_lock: int,
        max_lock: int,
        forget_before: int,
    ) -> FailureCounted:
        """Count one failed check, atomically; lock the username when the
        count reaches ``max_failures``.

        A row whose last failure is older than ``forget_before`` counts from
        zero again (its lock history too). The first lock lasts
        ``first_lock`` seconds, each further one twice the last, never more
        than ``max_lock``.
        """
        starts = max_failures <= 1
        params = {
            "digest": username_digest,
            "now": now,
            "max_failures": max_failures,
            "first_lock": first_lock,
            "max_lock": max_lock,
            "forget_before": forget_before,
            "new_failures": 0 if starts else 1,
            "new_lock_seconds": first_lock if starts else 0,
            "new_locked_until": now + first_lock if starts else None,
        }
        with self.transaction() as session:
            statement = self._count_failure_statement(self.dialect(session))
            row = session.execute(statement, params).first()
            if row is None:  # locked by a concurrent failure: nothing counted
                model = self.model
                locked = session.execute(
                    select(model.locked_until, model.lock_seconds).where(
                        model.username_digest == username_digest
                    )
                ).one()
                return FailureCounted(locked[0], False, locked[1])
        _failures, lock_seconds, locked_until = row
        # The statement refuses to touch a locked row, so a lock it returns
        # is one it started.
        return FailureCounted(locked_until, locked_until is not None, lock_seconds)

    def dialect(self, session: Session) -> Dialect:
        """The dialect of the database the lock table lives in."""
        return session.get_bind(mapper=self.model).dialect

    def _count_failure_statement(self, dialect: Dialect) -> Any:
        """The upsert of :meth:`count_failure`, built once per dialect."""
        statement = self._count_failure.get(dialect.name)
        if statement is not None:
            return statement
        table = self.model.__table__  # type: ignore[attr-defined]
        c = table.c
        now = bindparam("now", type_=BigInteger())
        stale = c.last_failure_at < bindparam("forget_before", type_=BigInteger())
        failures = case((stale, 0), else_=c.failures)
        last_lock = case((stale, 0), else_=c.lock_seconds)
        max_lock = bindparam("max_lock", type_=BigInteger())
        next_lock = case(
            (last_lock == 0, bindparam("first_lock", type_=BigInteger())),
            (last_lock * 2 >= max_lock, max_lock),
            else_=last_lock * 2,
        )
        reached = failures + 1 >= bindparam("max_failures", type_=Integer())
        insert = _upsert_insert(dialect)(table).values(
            username_digest=bindparam("digest"),
            failures=bindparam("new_failures", type_=Integer()),
            lock_seconds=bindparam("new_lock_seconds", type_=BigInteger()),
            locked_until=bindparam("new_locked_until", type_=BigInteger()),
            last_failure_at=now,
        )
        statement = insert.on_conflict_do_update(
            index_elements=[c.username_digest],
            set_={
                "failures": case((reached, 0), else_=failures + 1),
                "lock_seconds": case((reached, next_lock), else_=last_lock),
                "locked_until": case((reached, now + next_lock), else_=null()),
                "last_failure_at": now,
            },
            where=or_(c.locked_until.is_(None), c.locked_until <= now),
        ).returning(c.failures, c.lock_seconds, c.locked_until)
        self._count_failure[dialect.name] = statement
        return statement

    def purge(self, *, now: int, forget_before: int) -> int:
        """Delete rows that are not locked and whose last failure is older
        than ``forget_before`` (they would count from zero anyway)."""
        model = self.model
        with self.transaction() as session:
            return rowcount(
                session,
                delete(model).where(
                    model.last_failure_at < forget_before,
                    or_(model.locked_until.is_(None), model.locked_until <= now),
                ),
            )
