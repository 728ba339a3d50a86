"""The password lock's SQL: one row per username (by digest) whose password
was checked without success since its last success.

An attempt is counted *before* its password is checked, in one statement,
``INSERT … ON CONFLICT DO UPDATE … WHERE the row is not locked …
RETURNING``: the database applies it to the latest committed row under its
row lock, so of any number of simultaneous attempts on any number of
instances at most ``max_failures`` are counted (and so checked) before the
lock applies, and an attempt that arrives while the username is locked
changes nothing. A success then deletes the row (:meth:`LockoutStore.release`).
PostgreSQL and SQLite (3.24 or later) run it.
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
class AttemptCounted:
    """The row after an attempt was counted, or found locked."""

    #: ``False``: the username was locked, nothing was counted and its
    #: password must not be checked.
    counted: bool
    #: When the username's lock ends; ``None``: not locked.
    locked_until: int | None
    #: This attempt started the lock (if its password is wrong too, the
    #: ``password_lockout`` signal fires).
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
        self._count_attempt: dict[str, Any] = {}

    def release(
        self, username_digest: str, *, now: int, own_lock: int | None = None
    ) -> None:
        """A successful check: the count starts again from zero. A lock that
        a concurrent attempt started stays; ``own_lock`` is the end of the
        lock that the successful attempt itself started, which goes."""
        model = self.model
        unlocked = or_(model.locked_until.is_(None), model.locked_until <= now)
        if own_lock is not None:
            unlocked = or_(unlocked, model.locked_until == own_lock)
        with self.transaction() as session:
            rowcount(
                session,
                delete(model).where(model.username_digest == username_digest, unlocked),
            )

    def count_attempt(
        self,
        username_digest: str,
        *,
        now: int,
        max_failures: int,
        first_lock: int,
        max_lock: int,
        forget_before: int,
    ) -> AttemptCounted:
        """Count one attempt before its password is checked, atomically,
        unless the username is locked; lock it when the count reaches
        ``max_failures`` (that attempt is still checked: it is the last).

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
            statement = self._count_attempt_statement(self.dialect(session))
            row = session.execute(statement, params).first()
            if row is None:  # locked: nothing counted
                model = self.model
                locked = session.execute(
                    select(model.locked_until, model.lock_seconds).where(
                        model.username_digest == username_digest
                    )
                ).first()
                if locked is None:  # released since: refused all the same
                    return AttemptCounted(False, None, False, 0)
                return AttemptCounted(False, locked[0], False, locked[1])
        _failures, lock_seconds, locked_until = row
        # The statement refuses to touch a locked row, so a lock it returns
        # is one it started.
        return AttemptCounted(
            True, locked_until, locked_until is not None, lock_seconds
        )

    def dialect(self, session: Session) -> Dialect:
        """The dialect of the database the lock table lives in."""
        return session.get_bind(mapper=self.model).dialect

    def _count_attempt_statement(self, dialect: Dialect) -> Any:
        """The upsert of :meth:`count_attempt`, built once per dialect."""
        statement = self._count_attempt.get(dialect.name)
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
        self._count_attempt[dialect.name] = statement
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
