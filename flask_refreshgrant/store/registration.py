"""Dynamic client registration's SQL (RFC 7591): initial access tokens,
the per-address rate limit, registering a client, and purging dynamic
clients that never obtained a token.

The rate limit is one statement, ``INSERT … ON CONFLICT DO UPDATE … WHERE
the window is over or the count is below the limit … RETURNING``, applied by
the database under the row's lock: instances counting one address at once
never let more through than the limit (PostgreSQL, SQLite 3.24+).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Integer,
    and_,
    bindparam,
    case,
    delete,
    exists,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from ..models import Models
from ..registration_models import RegistrationLimitMixin, RegistrationTokenMixin
from ..security import generate_client_id, generate_token, token_digest
from .base import StoreBase, rowcount

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy

#: ``registered_by`` of a client that registered itself.
DYNAMIC = "dynamic"
#: The rate limit's window, in seconds.
RATE_WINDOW = 3600


class RegistrationStore(StoreBase):
    """Reads and writes of dynamic registration."""

    def __init__(self, db: SQLAlchemy, models: Models) -> None:
        super().__init__(db, models)
        assert models.registration_token is not None  # models.complete_models
        assert models.registration_limit is not None
        self.tokens: type[RegistrationTokenMixin] = models.registration_token
        self.limits: type[RegistrationLimitMixin] = models.registration_limit
        self._count: dict[str, Any] = {}

    # -- initial access tokens -----------------------------------------------

    def create_token(
        self, *, now: int, expires_at: int | None, uses: int | None
    ) -> str:
        """A new initial access token (returned once; its digest is stored)."""
        token = generate_token()
        model: Any = self.tokens
        with self.transaction() as session:
            session.add(
                model(
                    digest=token_digest(token),
                    created_at=now,
                    expires_at=expires_at,
                    uses_left=uses,
                )
            )
        return token

    def _usable(self, now: int) -> Any:
        model = self.tokens
        return and_(
            or_(model.uses_left.is_(None), model.uses_left > 0),
            or_(model.expires_at.is_(None), model.expires_at > now),
        )

    def token_usable(self, token: str, *, now: int) -> bool:
        """Whether ``token`` is a live initial access token with uses left."""
        model = self.tokens
        found = self.session.scalar(
            select(model.id).where(
                model.digest == token_digest(token), self._usable(now)
            )
        )
        return found is not None

    # -- the rate limit ------------------------------------------------------

    def count_attempt(self, address: str, *, now: int, limit: int) -> int | None:
        """Count one registration from ``address``; ``None`` if within the
        limit, else the seconds until the address's window ends."""
        digest = token_digest(address)
        with self.transaction() as session:
            dialect = session.get_bind(mapper=self.limits).dialect
            statement = self._count_statement(dialect)
            params = {"digest": digest, "now": now, "limit": limit}
            if session.execute(statement, params).first() is not None:
                return None
            started = session.scalar(
                select(self.limits.window_start).where(
                    self.limits.address_digest == digest
                )
            )
        return max(1, (started or now) + RATE_WINDOW - now)

    def _count_statement(self, dialect: Dialect) -> Any:
        statement = self._count.get(dialect.name)
        if statement is not None:
            return statement
        if dialect.name == "postgresql":
            insert: Any = postgresql.insert
        elif dialect.name == "sqlite":
            insert = sqlite.insert
        else:
            raise NotImplementedError(
                "the registration rate limit counts with INSERT … ON CONFLICT, "
                f"which runs on PostgreSQL and SQLite, not {dialect.name}; set "
                "OAUTH2_REGISTRATION_RATE_LIMIT = 0 and limit registrations "
                "another way"
            )
        table = self.limits.__table__  # type: ignore[attr-defined]
        c = table.c
        now = bindparam("now", type_=BigInteger())
        over = c.window_start <= now - RATE_WINDOW
        statement = (
            insert(table)
            .values(address_digest=bindparam("digest"), window_start=now, count=1)
            .on_conflict_do_update(
                index_elements=[c.address_digest],
                set_={
                    "window_start": case((over, now), else_=c.window_start),
                    "count": case((over, 1), else_=c.count + 1),
                },
                where=or_(over, c.count < bindparam("limit", type_=Integer())),
            )
            .returning(c.count)
        )
        self._count[dialect.name] = statement
        return statement

    # -- registering ---------------------------------------------------------

    def register(
        self,
        *,
        values: dict[str, Any],
        public: bool,
        now: int,
        initial_token: str | None,
    ) -> tuple[str, str | None] | None:
        """Store a dynamic client with the column ``values`` and, in the
        same transaction, use up one use of ``initial_token`` if given.
        Returns its id and secret, or ``None`` (nothing stored) when the
        token was used up or expired meanwhile."""
        secret = None if public else generate_token()
        client_id = generate_client_id()
        with self.transaction() as session:
            if initial_token is not None:
                model = self.tokens
                used = rowcount(
                    session,
                    update(model)
                    .where(
                        model.digest == token_digest(initial_token), self._usable(now)
                    )
                    .values(uses_left=model.uses_left - 1),
                )
                if used != 1:
                    session.rollback()
                    return None
            session.add(
                self.models.client(
                    client_id=client_id,
                    client_secret_digest=None
                    if secret is None
                    else token_digest(secret),
                    created_at=now,
                    registered_by=DYNAMIC,
                    **values,
                )
            )
        return client_id, secret

    # -- purge ---------------------------------------------------------------

    def purge(self, *, now: int, unused_before: int) -> int:
        """Delete dynamic clients registered before ``unused_before`` that
        never obtained a token (and their codes), used-up and expired
        initial access tokens, and rate-limit windows that are over; how
        many clients were deleted.

        A dynamic client with a token row is marked (``token_seen_at``)
        first, in the same transaction, so that deleting its tokens later
        never makes it look unused.
        """
        client = self.models.client
        refresh, access = self.models.refresh_token, self.models.access_token
        code = self.models.authorization_code
        has_token = or_(
            exists().where(refresh.client_id == client.client_id),
            exists().where(access.client_id == client.client_id),
        )
        dynamic_unseen = and_(
            client.registered_by == DYNAMIC, client.token_seen_at.is_(None)
        )
        with self.transaction() as session:
            rowcount(
                session,
                update(client)
                .where(dynamic_unseen, has_token)
                .values(token_seen_at=now),
            )
            unused = select(client.client_id).where(
                dynamic_unseen, client.created_at <= unused_before
            )
            rowcount(session, delete(code).where(code.client_id.in_(unused)))
            deleted = rowcount(
                session,
                delete(client).where(
                    dynamic_unseen, client.created_at <= unused_before
                ),
            )
            tokens = self.tokens
            rowcount(session, delete(tokens).where(~self._usable(now)))
            limits = self.limits
            rowcount(
                session, delete(limits).where(limits.window_start <= now - RATE_WINDOW)
            )
        return deleted
