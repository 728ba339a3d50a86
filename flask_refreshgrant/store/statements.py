"""The statements of the token endpoint's hot path, built once per app.

A statement built per request costs more Python (coercion, a new cache key)
than running it does on SQLite, so :class:`Statements` builds them at
``init_app`` from the app's models, with bound parameters, and
:mod:`.tokens` runs them. Writes address the tables (SQLAlchemy Core), not
the mapped classes: new and retired token rows need none of the ORM's unit of
work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, Table, bindparam, insert, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from ..models import Models, is_default_model
from .loading import RowLoader


def _python_side_defaults(
    table: Table, given: tuple[str, ...], *, updating: bool = False
) -> list[str]:
    """Columns of ``table`` outside ``given`` that SQLAlchemy fills in in
    Python on INSERT (or, with ``updating``, on UPDATE)."""
    return [
        column.name
        for column in table.columns
        if (column.name not in given and column.default is not None)
        or (updating and column.onupdate is not None)
    ]


def _bound_values(table: Table, prefix: str, names: tuple[str, ...]) -> Select[Any]:
    """``SELECT :prefix<name>, …``: a row of parameters typed as ``table``'s
    columns, to feed an ``INSERT … SELECT``."""
    return select(
        *(bindparam(f"{prefix}{name}", type_=table.c[name].type) for name in names)
    )


#: Columns of the default client model that a refresh never reads (they serve
#: the authorization endpoint, registration, management and introspection):
#: the joined lookup leaves them expired on the instance, so reading one
#: loads them then.
_UNREAD_CLIENT_COLUMNS = (
    "client_name",
    "redirect_uris",
    "created_at",
    "registered_by",
    "token_seen_at",
    "served_resources",
)


class Statements:
    """One app's prebuilt statements (see the module's docstring).

    Parameters of the rotation are prefixed (``retire_``, and in the
    one-statement form ``successor_`` and ``access_``) so that none is taken
    for a column value.
    """

    def __init__(self, models: Models) -> None:
        client, refresh, access = (
            models.client,
            models.refresh_token,
            models.access_token,
        )
        self._refresh: Table = refresh.__table__
        self._access: Table = access.__table__
        self.client_by_id = select(client).where(client.client_id == bindparam("value"))
        #: How rows of the models read by digest become instances.
        self.loaders: dict[type[Any], RowLoader[Any]] = {
            model: RowLoader(model)
            for model in (refresh, access, models.authorization_code)
        }
        self.by_digest: dict[type[Any], Executable] = {
            model: loader.select().where(loader.column("digest") == bindparam("value"))
            for model, loader in self.loaders.items()
        }
        #: The presented refresh token and its client, in one round trip:
        #: the refresh token's columns, then the client's (prefixed
        #: ``client__``), read by these two loaders — or, when either model
        #: needs the ORM's own loading (``None``), the two mapped classes.
        #: Not selected, because the caller knows them: the token's digest
        #: (the WHERE clause's) and the client's ``client_id`` (the join's,
        #: equal to the token's); nor, of the default client model, the
        #: columns a refresh never reads (``_UNREAD_CLIENT_COLUMNS``): a
        #: driver builds objects per result column per execution (psycopg:
        #: about 10,000 instructions each).
        refresh_loader: RowLoader[Any] = RowLoader(refresh, given=("digest",))
        client_loader: RowLoader[Any] = RowLoader(
            client,
            "client__",
            given=("client_id",),
            unread=_UNREAD_CLIENT_COLUMNS if is_default_model(client) else (),
        )
        self.joined_loaders: tuple[RowLoader[Any], RowLoader[Any]] | None = None
        if refresh_loader.supported and client_loader.supported:
            self.joined_loaders = (refresh_loader, client_loader)
        self.refresh_token_and_client = (
            (
                select(refresh, client)
                if self.joined_loaders is None
                else select(*refresh_loader.columns, *client_loader.columns)
            )
            .join_from(
                refresh_loader.column("client_id").table,
                client_loader.column("client_id").table,
                client_loader.column("client_id") == refresh_loader.column("client_id"),
            )
            .where(refresh_loader.column("digest") == bindparam("value"))
        )
        self.insert: dict[type[Any], Executable] = {
            model: insert(model.__table__) for model in (refresh, access)
        }
        table = self._refresh
        #: Retire a live refresh token; its row count says whether this
        #: request won it.
        self.retire = (
            update(table)
            .where(
                table.c.id == bindparam("retire_id"),
                table.c.rotated_at.is_(None),
                table.c.revoked_at.is_(None),
            )
            .values(
                rotated_at=bindparam("retire_now"),
                replay=bindparam("retire_replay"),
            )
        )
        #: The retired token's parent stops replaying: its successor is used.
        self.end_parent_replay = (
            update(table)
            .where(
                table.c.id == bindparam("retire_parent_id"),
                table.c.replay.is_not(None),
            )
            .values(replay=None)
        )
        #: Lock a live refresh token's row against revocation until commit
        #: (``FOR SHARE``; SQLite has one writer at a time anyway).
        self.lock_live_refresh_token = (
            select(table.c.id)
            .where(
                table.c.id == bindparam("refresh_id"),
                table.c.rotated_at.is_(None),
                table.c.revoked_at.is_(None),
            )
            .with_for_update(read=True)
        )
        self._rotations: dict[tuple[Any, ...], Executable | None] = {}
        self._conditional_access: dict[tuple[Any, ...], Executable | None] = {}

    def adopt_joined(
        self, session: Session, row: Sequence[Any], digest: str
    ) -> tuple[Any, Any]:
        """The refresh token and client instances of a row of
        :attr:`refresh_token_and_client` whose digest is ``digest``."""
        if self.joined_loaders is None:
            return row[0], row[1]
        refresh_loader, client_loader = self.joined_loaders
        split = len(refresh_loader.columns)
        refresh = refresh_loader.adopt(session, row[:split], (digest,))
        client_id = row[refresh_loader.position("client_id")]
        return refresh, client_loader.adopt(session, row[split:], (client_id,))

    def access_token_if_live(
        self, dialect: Dialect, access: tuple[str, ...]
    ) -> Executable | None:
        """INSERT an access token (columns ``access``, parameters prefixed
        ``access_``) only while refresh token ``refresh_id`` is live.

        ``INSERT … SELECT … WHERE EXISTS (…FOR SHARE)``: a revocation that
        committed first leaves nothing to insert; one still running makes the
        insert wait for it and then insert nothing; one that starts later
        waits for this transaction and revokes the new token with the rest.
        The statement returns the new row (or says so by its row count where
        the database cannot return rows from an INSERT).

        ``None`` when the access table has a column with a Python-side
        default outside ``access`` (SQLAlchemy does not apply it to an
        ``INSERT … SELECT``): then lock with :attr:`lock_live_refresh_token`
        and insert with :attr:`insert`.
        """
        key = (dialect.name, access)
        if key not in self._conditional_access:
            statement: Any = None
            if not _python_side_defaults(self._access, access):
                live = self.lock_live_refresh_token.exists()
                values = _bound_values(self._access, "access_", access).where(live)
                statement = insert(self._access).from_select(access, values)
                if dialect.insert_returning:
                    statement = statement.returning(self._access.c.id)
            self._conditional_access[key] = statement
        return self._conditional_access[key]

    def one_statement_rotation(
        self,
        dialect: Dialect,
        *,
        end_parent_replay: bool,
        successor: tuple[str, ...],
        access: tuple[str, ...],
    ) -> Executable | None:
        """The whole rotation as one statement, where the database allows.

        PostgreSQL runs data-modifying CTEs: :attr:`retire`'s ``RETURNING``
        feeds the INSERTs of the successor (columns ``successor``) and of the
        access token (columns ``access``), so when it retires no row they
        insert none and the statement returns no row. Concurrent requests
        race on the UPDATE's row lock exactly as with separate statements.

        ``None`` on other databases, and when a token table has a column with
        a Python-side default or ``onupdate`` the rotation does not set:
        SQLAlchemy does not apply those inside a CTE. Built once per shape.
        """
        key = (dialect.name, end_parent_replay, successor, access)
        if key not in self._rotations:
            supported = (
                dialect.name == "postgresql"
                and not _python_side_defaults(self._refresh, successor, updating=True)
                and not _python_side_defaults(self._access, access)
            )
            self._rotations[key] = (
                self._rotation_cte(end_parent_replay, successor, access)
                if supported
                else None
            )
        return self._rotations[key]

    def _rotation_cte(
        self,
        end_parent_replay: bool,
        successor: tuple[str, ...],
        access: tuple[str, ...],
    ) -> Executable:
        retired = self.retire.returning(self._refresh.c.id).cte("retired")
        new_access = _bound_values(self._access, "access_", access)
        new_refresh = _bound_values(self._refresh, "successor_", successor)
        statement = (
            insert(self._access)
            .from_select(access, new_access.select_from(retired))
            .returning(self._access.c.id)
            .add_cte(
                insert(self._refresh)
                .from_select(successor, new_refresh.select_from(retired))
                .cte("successor")
            )
        )
        if end_parent_replay:
            statement = statement.add_cte(
                self.end_parent_replay.where(select(retired.c.id).exists()).cte(
                    "parent"
                )
            )
        return statement
