"""The DPoP replay store: every proof's ``jti`` accepted once (RFC 9449 §11.1).

A proof is remembered by a digest of its key thumbprint and ``jti`` in a
table with a unique index, so every instance and worker sharing the database
refuses a proof another one has seen: the database decides, never a lock or
a cache in one process. A row is needed only while the proof's ``iat`` is
recent enough to be accepted; ``flask oauth2 purge`` deletes the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, delete, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Executable

from ..models import Models
from .base import StoreBase, rowcount

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy


class ProofReplayStore(StoreBase):
    """The proofs seen, by digest (see the module's docstring)."""

    def __init__(self, db: SQLAlchemy, models: Models) -> None:
        super().__init__(db, models)
        assert models.dpop_proof is not None  # init_app adds the default
        self._table: Table = models.dpop_proof.__table__  # type: ignore[attr-defined]
        self._inserts: dict[str, Executable | None] = {}

    def _insert_once(self, dialect: Dialect) -> Executable | None:
        """``INSERT … ON CONFLICT DO NOTHING RETURNING id`` where the database
        has it: a row back means the proof is new."""
        if dialect.name not in self._inserts:
            statement: Any = None
            if dialect.name == "postgresql":
                statement = postgresql.insert(self._table)
            elif dialect.name == "sqlite" and dialect.insert_returning:
                statement = sqlite.insert(self._table)
            if statement is not None:
                statement = statement.on_conflict_do_nothing(
                    index_elements=["digest"]
                ).returning(self._table.c.id)
            self._inserts[dialect.name] = statement
        return self._inserts[dialect.name]

    def record(self, digest: str, *, expires_at: int) -> bool:
        """Remember a proof; ``False`` if it had been seen already (a replay).

        Concurrent requests presenting one proof race on the unique index:
        exactly one inserts the row.
        """
        values = {"digest": digest, "expires_at": expires_at}
        with self.transaction() as session:
            model = self.models.dpop_proof
            statement = self._insert_once(session.get_bind(mapper=model).dialect)
            if statement is not None:
                return session.execute(statement, values).first() is not None
            try:
                with session.begin_nested():
                    session.execute(insert(self._table), values)
            except IntegrityError:
                return False
            return True

    def purge(self, *, now: int) -> int:
        """Forget proofs too old to be accepted anyway; how many."""
        with self.transaction() as session:
            return rowcount(
                session, delete(self._table).where(self._table.c.expires_at <= now)
            )
