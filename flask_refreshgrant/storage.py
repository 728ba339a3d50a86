"""Every query the extension makes: the one home of atomicity.

Rotation is one transaction: a conditional ``UPDATE … WHERE rotated_at IS NULL
AND revoked_at IS NULL`` checked by its row count, then the successor's insert,
then commit. Of any number of concurrent requests presenting the same refresh
token, in any number of processes, exactly one sees a row count of 1; the
database's own row locking decides, never a lock held in one Python process.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.engine import CursorResult, Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from .models import (
    AccessTokenMixin,
    AuthorizationCodeMixin,
    ClientMixin,
    Models,
    RefreshTokenMixin,
)
from .security import generate_client_id, generate_token, token_digest
from .statements import Statements

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy


@dataclasses.dataclass(frozen=True)
class IssuedTokens:
    """What a grant hands to storage: the clear tokens, never stored as such."""

    access_token: str
    refresh_token: str | None
    scope: str
    access_token_expires_in: int


@dataclasses.dataclass(frozen=True)
class PurgeCounts:
    """What ``purge`` deleted or cleared."""

    access_tokens: int
    refresh_tokens: int
    authorization_codes: int
    replays: int


@dataclasses.dataclass(frozen=True)
class NewClient:
    """A freshly registered client's id and secret (shown once, never stored)."""

    client_id: str
    client_secret: str | None


_Digested = TypeVar(
    "_Digested", RefreshTokenMixin, AccessTokenMixin, AuthorizationCodeMixin
)


#: ``Session.info`` key of the client a joined token lookup loaded, with the
#: transaction it was loaded in.
_LOADED_CLIENT = "flask_refreshgrant.loaded_client"


def new_family_id() -> str:
    return secrets.token_hex(16)


#: A row to insert: its model and its column values.
_Row = tuple[type[Any], dict[str, Any]]


def _prefixed(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` as statement parameters named ``prefix<column>``."""
    return {f"{prefix}{name}": value for name, value in values.items()}


def _rowcount(
    session: Session, statement: Executable, params: dict[str, Any] | None = None
) -> int:
    """Run a bulk UPDATE or DELETE; how many rows it touched."""
    result = session.execute(
        statement, params, execution_options={"synchronize_session": False}
    )
    return cast(CursorResult[Any], result).rowcount


class Storage:
    """Queries over one app's models, on the user's ``db`` session."""

    def __init__(
        self, db: SQLAlchemy, models: Models, clock: Callable[[], float]
    ) -> None:
        self.db = db
        self.models = models
        self._clock = clock
        self.statements = Statements(models)

    def _insert(self, session: Session, rows: list[_Row]) -> None:
        """Plain INSERTs: a short write transaction holds SQLite's write lock
        for less time than the ORM's unit of work would."""
        for model, values in rows:
            session.execute(self.statements.insert[model], values)

    @property
    def session(self) -> Session:
        return cast(Session, self.db.session)

    def _dialect(self, session: Session) -> Dialect:
        """The dialect of the database the token tables live in."""
        return session.get_bind(mapper=self.models.refresh_token).dialect

    def _current_session(self) -> Session:
        """The scoped session's current ``Session`` itself (not the proxy)."""
        return cast(Session, self.db.session())

    def now(self) -> int:
        """The app's clock, in whole seconds."""
        return int(self._clock())

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Commit on success, roll back on any error (and re-raise it)."""
        session = self.session
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

    # -- clients -------------------------------------------------------------

    def get_client(self, client_id: str) -> ClientMixin | None:
        """The client ``client_id``; no query when the current transaction
        already loaded it (see :meth:`find_refresh_token_and_client`)."""
        session = self._current_session()
        loaded = session.info.get(_LOADED_CLIENT)
        if (
            loaded is not None
            and loaded[0] is session.get_transaction()
            and loaded[1].client_id == client_id
        ):
            return cast(ClientMixin, loaded[1])
        return session.scalars(
            self.statements.client_by_id, {"value": client_id}
        ).first()

    def create_client(
        self,
        *,
        name: str,
        grant_types: list[str],
        scope: str,
        redirect_uris: list[str] | None = None,
        public: bool = False,
        **overrides: Any,
    ) -> NewClient:
        """Register a client; a confidential one gets a server-generated secret."""
        secret = None if public else generate_token()
        client = self.models.client(
            client_id=generate_client_id(),
            client_secret_digest=None if secret is None else token_digest(secret),
            client_name=name,
            grant_types=" ".join(dict.fromkeys(grant_types)),
            scope=" ".join(dict.fromkeys(scope.split())),
            redirect_uris=" ".join(redirect_uris or []),
            created_at=self.now(),
            **overrides,
        )
        client_id = client.client_id
        with self.transaction() as session:
            session.add(client)
        return NewClient(client_id=client_id, client_secret=secret)

    # -- lookups -------------------------------------------------------------

    def _by_digest(self, model: type[_Digested], value: str) -> _Digested | None:
        """The row of ``model`` whose digest is ``value``'s (a unique index)."""
        statement = self.statements.by_digest[model]
        found: _Digested | None = self.session.scalars(
            statement, {"value": token_digest(value)}
        ).first()
        return found

    def find_refresh_token(self, token: str) -> RefreshTokenMixin | None:
        return self._by_digest(self.models.refresh_token, token)

    def find_refresh_token_and_client(self, token: str) -> RefreshTokenMixin | None:
        """The refresh token ``token``, loaded in one query with its client.

        The client stays known to :meth:`get_client` for the rest of the
        transaction, so authenticating it costs no second round trip. A
        token whose client no longer exists is not found.
        """
        session = self._current_session()
        row = session.execute(
            self.statements.refresh_token_and_client, {"value": token_digest(token)}
        ).first()
        if row is None:
            return None
        refresh, client = row
        session.info[_LOADED_CLIENT] = (session.get_transaction(), client)
        return refresh

    def find_access_token(self, token: str) -> AccessTokenMixin | None:
        return self._by_digest(self.models.access_token, token)

    # -- issuing -------------------------------------------------------------

    def _access_token_row(
        self,
        issued: IssuedTokens,
        *,
        client_id: str,
        user_id: str | None,
        grant_type: str,
        family_id: str | None,
        now: int,
    ) -> _Row:
        return self.models.access_token, {
            "digest": token_digest(issued.access_token),
            "client_id": client_id,
            "user_id": user_id,
            "scope": issued.scope,
            "grant_type": grant_type,
            "family_id": family_id,
            "issued_at": now,
            "expires_at": now + issued.access_token_expires_in,
        }

    def _access_token_for(
        self, refresh: RefreshTokenMixin, issued: IssuedTokens, *, now: int
    ) -> _Row:
        """An access token row of ``refresh``'s family, client and user."""
        return self._access_token_row(
            issued,
            client_id=refresh.client_id,
            user_id=refresh.user_id,
            grant_type=refresh.grant_type,
            family_id=refresh.family_id,
            now=now,
        )

    def _new_grant_rows(
        self,
        issued: IssuedTokens,
        *,
        family_id: str,
        client_id: str,
        user_id: str | None,
        grant_type: str,
        now: int,
        refresh_expires_at: int | None,
    ) -> list[_Row]:
        rows: list[_Row] = []
        if issued.refresh_token is not None:
            rows.append(
                (
                    self.models.refresh_token,
                    {
                        "digest": token_digest(issued.refresh_token),
                        "family_id": family_id,
                        "parent_id": None,
                        "client_id": client_id,
                        "user_id": user_id,
                        "scope": issued.scope,
                        "grant_type": grant_type,
                        "issued_at": now,
                        "family_issued_at": now,
                        "expires_at": refresh_expires_at,
                    },
                )
            )
        rows.append(
            self._access_token_row(
                issued,
                client_id=client_id,
                user_id=user_id,
                grant_type=grant_type,
                family_id=family_id if issued.refresh_token is not None else None,
                now=now,
            )
        )
        return rows

    def issue_new_grant(
        self,
        issued: IssuedTokens,
        *,
        client_id: str,
        user_id: str | None,
        grant_type: str,
        now: int,
        refresh_expires_at: int | None,
    ) -> str | None:
        """Store the tokens of a fresh grant (password, client credentials).

        A refresh token starts a new family, whose id is returned (``None``
        without a refresh token).
        """
        family_id = new_family_id()
        rows = self._new_grant_rows(
            issued,
            family_id=family_id,
            client_id=client_id,
            user_id=user_id,
            grant_type=grant_type,
            now=now,
            refresh_expires_at=refresh_expires_at,
        )
        with self.transaction() as session:
            self._insert(session, rows)
        return family_id if issued.refresh_token is not None else None

    # -- authorization codes -------------------------------------------------

    def save_authorization_code(
        self,
        code: str,
        *,
        client_id: str,
        user_id: str,
        redirect_uri: str | None,
        scope: str,
        code_challenge: str | None,
        code_challenge_method: str | None,
        now: int,
        expires_at: int,
    ) -> None:
        row = self.models.authorization_code(
            digest=token_digest(code),
            client_id=client_id,
            user_id=user_id,
            redirect_uri=redirect_uri,
            scope=scope,
            code_challenge=code_challenge,
            code_challenge_method=code_challenge_method,
            issued_at=now,
            expires_at=expires_at,
        )
        with self.transaction() as session:
            session.add(row)

    def find_authorization_code(self, code: str) -> AuthorizationCodeMixin | None:
        return self._by_digest(self.models.authorization_code, code)

    def redeem_authorization_code(
        self,
        code: AuthorizationCodeMixin,
        issued: IssuedTokens,
        *,
        now: int,
        refresh_expires_at: int | None,
    ) -> str | None:
        """Mark ``code`` used and store the tokens it buys, in one transaction.

        Returns the new family id, or ``None`` when the code had already been
        used (by a concurrent request, say): nothing is written then.
        """
        model = self.models.authorization_code
        family_id = new_family_id()
        rows = self._new_grant_rows(
            issued,
            family_id=family_id,
            client_id=code.client_id,
            user_id=code.user_id,
            grant_type="authorization_code",
            now=now,
            refresh_expires_at=refresh_expires_at,
        )
        with self.transaction() as session:
            used = _rowcount(
                session,
                update(model)
                .where(model.id == code.id, model.used_at.is_(None))
                .values(used_at=now, family_id=family_id),
            )
            if used != 1:
                session.rollback()
                return None
            self._insert(session, rows)
        return family_id

    def rotate(
        self,
        old: RefreshTokenMixin,
        issued: IssuedTokens,
        *,
        now: int,
        expires_at: int | None,
        replay: str | None = None,
    ) -> bool:
        """Atomically retire ``old`` and store its successor and a new access token.

        ``replay`` (the sealed response, for a grace period) is kept on
        ``old``; the parent of ``old`` loses its own, since its successor has
        now been used. Returns ``False`` when ``old`` was no longer live by the
        time the conditional update ran (another request rotated it, or it was
        revoked): nothing is written then.
        """
        assert issued.refresh_token is not None
        successor = {
            "digest": token_digest(issued.refresh_token),
            "family_id": old.family_id,
            "parent_id": old.id,
            "client_id": old.client_id,
            "user_id": old.user_id,
            # RFC 6749 §6: the renewed refresh token keeps the original
            # grant's scope, even when this request narrowed the access
            # token's.
            "scope": old.scope,
            "grant_type": old.grant_type,
            "issued_at": now,
            "family_issued_at": old.family_issued_at,
            "expires_at": expires_at,
        }
        _, access = self._access_token_for(old, issued, now=now)
        retire = {"retire_id": old.id, "retire_now": now, "retire_replay": replay}
        # Only a rotation that keeps a replay ends its parent's window early;
        # without one, the parent's replay (if any) is already too old to be
        # served (grants.RefreshTokenGrant._grace_replay).
        end_parent = replay is not None and old.parent_id is not None
        with self.transaction() as session:
            one_statement = self.statements.one_statement_rotation(
                self._dialect(session),
                end_parent_replay=end_parent,
                successor=tuple(successor),
                access=tuple(access),
            )
            if one_statement is not None:
                params = {
                    **retire,
                    "retire_parent_id": old.parent_id,
                    **_prefixed("successor_", successor),
                    **_prefixed("access_", access),
                }
                retired = session.execute(one_statement, params).first() is not None
            else:
                parent_id = old.parent_id if end_parent else None
                retired = self._rotate_in_steps(
                    session, retire, parent_id, successor, access
                )
            if not retired:
                session.rollback()
                return False
        return True

    def _rotate_in_steps(
        self,
        session: Session,
        retire: dict[str, Any],
        parent_id: int | None,
        successor: dict[str, Any],
        access: dict[str, Any],
    ) -> bool:
        """The rotation as separate statements: the conditional UPDATE,
        checked by its row count, then the INSERTs."""
        if _rowcount(session, self.statements.retire, retire) != 1:
            return False
        if parent_id is not None:
            _rowcount(
                session,
                self.statements.end_parent_replay,
                {"retire_parent_id": parent_id},
            )
        self._insert(
            session,
            [
                (self.models.refresh_token, successor),
                (self.models.access_token, access),
            ],
        )
        return True

    def reload(self, token: RefreshTokenMixin) -> None:
        """Read ``token``'s row again, as committed by other transactions."""
        self.session.refresh(token)

    def issue_access_token(
        self, refresh: RefreshTokenMixin, issued: IssuedTokens, *, now: int
    ) -> bool:
        """Store a new access token for a refresh token that is not renewed.

        Returns ``False``, and stores nothing, when ``refresh`` was revoked (or
        rotated out) by the time of the write, since it was read.
        """
        _, access = self._access_token_for(refresh, issued, now=now)
        with self.transaction() as session:
            statement = self.statements.access_token_if_live(
                self._dialect(session), tuple(access)
            )
            if statement is not None:
                params = {**_prefixed("access_", access), "refresh_id": refresh.id}
                result = cast(CursorResult[Any], session.execute(statement, params))
                issued_one = (
                    result.first() is not None
                    if result.returns_rows
                    else result.rowcount == 1
                )
            else:
                issued_one = (
                    session.execute(
                        self.statements.lock_live_refresh_token,
                        {"refresh_id": refresh.id},
                    ).first()
                    is not None
                )
                if issued_one:
                    self._insert(session, [(self.models.access_token, access)])
            if not issued_one:
                session.rollback()
        return issued_one

    # -- revocation ----------------------------------------------------------

    def _drop_replay(self, model: type[Any]) -> dict[str, None]:
        """A revoked token never replays (SPEC: no grace for revocation)."""
        return {"replay": None} if model is self.models.refresh_token else {}

    def revoke_access_token(self, token: AccessTokenMixin, *, now: int) -> None:
        """Revoke one access token."""
        model = self.models.access_token
        with self.transaction() as session:
            _rowcount(
                session,
                update(model)
                .where(model.id == token.id, model.revoked_at.is_(None))
                .values(revoked_at=now),
            )

    def revoke_family(self, family_id: str, *, now: int) -> int:
        """Revoke every live refresh and access token of a family, in one commit.

        Returns how many rows were revoked.
        """
        return self._revoke(now, family_id=family_id)

    def revoke_all(
        self, *, now: int, client_id: str | None = None, user_id: str | None = None
    ) -> int:
        """Revoke every live token of a client or of a user; how many rows."""
        criteria = {"client_id": client_id, "user_id": user_id}
        return self._revoke(now, **{k: v for k, v in criteria.items() if v is not None})

    def _revoke(self, now: int, **columns: str) -> int:
        """Revoke the live refresh and access tokens whose ``columns`` match."""
        count = 0
        with self.transaction() as session:
            for model in (self.models.refresh_token, self.models.access_token):
                count += _rowcount(
                    session,
                    update(model)
                    .filter_by(revoked_at=None, **columns)
                    .values(revoked_at=now, **self._drop_replay(model)),
                )
        return count

    # -- maintenance ---------------------------------------------------------

    def purge(self, *, cutoff: int, replay_cutoff: int) -> PurgeCounts:
        """Delete tokens (and codes) expired or revoked before ``cutoff``.

        A rotated-out refresh token is kept while its family still has a live
        token, since reuse detection needs it; it goes with the family. Grace
        replay copies of rotations before ``replay_cutoff`` are cleared.
        """
        access, refresh = self.models.access_token, self.models.refresh_token
        with self.transaction() as session:
            deleted_access = _rowcount(
                session,
                delete(access).where(
                    or_(access.expires_at <= cutoff, access.revoked_at <= cutoff)
                ),
            )
            dead = or_(
                refresh.revoked_at <= cutoff,
                and_(refresh.rotated_at.is_(None), refresh.expires_at <= cutoff),
            )
            deleted_refresh = _rowcount(session, delete(refresh).where(dead))
            live_families = select(refresh.family_id).where(
                refresh.rotated_at.is_(None), refresh.revoked_at.is_(None)
            )
            deleted_refresh += _rowcount(
                session,
                delete(refresh).where(
                    refresh.rotated_at.is_not(None),
                    refresh.family_id.not_in(live_families),
                ),
            )
            code = self.models.authorization_code
            codes = _rowcount(session, delete(code).where(code.expires_at <= cutoff))
            replays = _rowcount(
                session,
                update(refresh)
                .where(refresh.replay.is_not(None), refresh.rotated_at <= replay_cutoff)
                .values(replay=None),
            )
        return PurgeCounts(deleted_access, deleted_refresh, codes, replays)

    def longest_grace_period(self, app_grace_period: int) -> int:
        """The app's grace period or the longest per-client one."""
        client = self.models.client
        longest = self.session.scalar(
            select(func.max(client.refresh_token_grace_period))
        )
        return max(app_grace_period, longest or 0)
