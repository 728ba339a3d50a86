"""What the grants and endpoints read and write per request: the one home of
atomicity.

Rotation is one transaction: a conditional ``UPDATE … WHERE rotated_at IS NULL
AND revoked_at IS NULL`` checked by its row count, then the successor's insert,
then commit. Of any number of concurrent requests presenting the same refresh
token, in any number of processes, exactly one sees a row count of 1; the
database's own row locking decides, never a lock held in one Python process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from ..models import (
    AccessTokenMixin,
    AuthorizationCodeMixin,
    ClientMixin,
    Models,
    RefreshTokenMixin,
)
from ..security import token_digest
from . import rows
from .base import StoreBase, rowcount
from .rows import IssuedTokens
from .statements import Statements

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy


_Digested = TypeVar(
    "_Digested", RefreshTokenMixin, AccessTokenMixin, AuthorizationCodeMixin
)


#: ``Session.info`` key of the client a joined token lookup loaded, with the
#: transaction it was loaded in.
_LOADED_CLIENT = "flask_refreshgrant.loaded_client"


class TokenStore(StoreBase):
    """Tokens and codes: lookups by digest, issuing, rotation, revocation."""

    def __init__(self, db: SQLAlchemy, models: Models) -> None:
        super().__init__(db, models)
        self.statements = Statements(models)
        #: A JWT access token to its ``jti`` if it checks out, else ``None``
        #: (``keys.access_tokens.AccessTokenReader``, set by ``init_app``).
        self.read_jwt: Callable[[str], str | None] | None = None

    def _insert(self, session: Session, new_rows: list[rows.Row]) -> None:
        """Plain INSERTs: a short write transaction holds SQLite's write lock
        for less time than the ORM's unit of work would."""
        for model, values in new_rows:
            session.execute(self.statements.insert[model], values)

    # -- clients -------------------------------------------------------------

    def get_client(self, client_id: str) -> ClientMixin | None:
        """The client ``client_id``; no query when the current transaction
        already loaded it (see :meth:`find_refresh_token_and_client`)."""
        session = self.current_session()
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

    # -- lookups -------------------------------------------------------------

    def _by_digest(self, model: type[_Digested], value: str) -> _Digested | None:
        """The row of ``model`` whose digest is ``value``'s (a unique index)."""
        found: _Digested | None = self.statements.loaders[model].first(
            self.current_session(),
            self.statements.by_digest[model],
            {"value": token_digest(value)},
        )
        return found

    def find_refresh_token(self, token: str) -> RefreshTokenMixin | None:
        return self._by_digest(self.models.refresh_token, token)

    def find_refresh_token_and_client(self, token: str) -> RefreshTokenMixin | None:
        """The refresh token ``token``, loaded in one query with its client.

        The client stays known to :meth:`get_client` for the rest of the
        transaction, so authenticating it costs no second round trip. A
        token whose client no longer exists is not found.
        """
        session = self.current_session()
        digest = token_digest(token)
        row = session.execute(
            self.statements.refresh_token_and_client, {"value": digest}
        ).first()
        if row is None:
            return None
        refresh, client = self.statements.adopt_joined(session, row, digest)
        session.info[_LOADED_CLIENT] = (session.get_transaction(), client)
        return cast(RefreshTokenMixin, refresh)

    def find_access_token(self, token: str) -> AccessTokenMixin | None:
        """An opaque access token by its digest, or a JWT (RFC 9068) by its
        ``jti``'s once :attr:`read_jwt` checked it; never a JWT's bare ``jti``."""
        model = self.models.access_token
        if self.read_jwt is not None and token.count(".") == 2:
            jti = self.read_jwt(token)
            found = None if jti is None else self._by_digest(model, jti)
            if found is None or found.token_format != rows.JWT_FORMAT:
                return None
            return found
        found = self._by_digest(model, token)
        if found is not None and found.token_format is not None:
            return None
        return found

    # -- issuing -------------------------------------------------------------

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
        family_id = rows.new_family_id()
        new_rows = rows.new_grant_rows(
            self.models,
            issued,
            family_id=family_id,
            client_id=client_id,
            user_id=user_id,
            grant_type=grant_type,
            now=now,
            refresh_expires_at=refresh_expires_at,
        )
        with self.transaction() as session:
            self._insert(session, new_rows)
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
        dpop_jkt: str | None = None,
        nonce: str | None = None,
        auth_time: int | None = None,
        resources: str | None = None,
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
            dpop_jkt=dpop_jkt,
            nonce=nonce,
            auth_time=auth_time,
            resources=resources,
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
        family_id = rows.new_family_id()
        new_rows = rows.new_grant_rows(
            self.models,
            issued,
            family_id=family_id,
            client_id=code.client_id,
            user_id=code.user_id,
            grant_type="authorization_code",
            now=now,
            refresh_expires_at=refresh_expires_at,
        )
        with self.transaction() as session:
            used = rowcount(
                session,
                update(model)
                .where(model.id == code.id, model.used_at.is_(None))
                .values(used_at=now, family_id=family_id),
            )
            if used != 1:
                session.rollback()
                return None
            self._insert(session, new_rows)
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
        if old.dpop_jkt is not None:
            # A bound family keeps its key (RFC 9449 §5).
            successor["dpop_jkt"] = old.dpop_jkt
        if old.auth_time is not None:
            successor["auth_time"] = old.auth_time
        if old.resources is not None:
            # So does a family given for resources (RFC 8707).
            successor["resources"] = old.resources
        _, access = rows.access_token_for(self.models, old, issued, now=now)
        retire = {"retire_id": old.id, "retire_now": now, "retire_replay": replay}
        # Only a rotation that keeps a replay ends its parent's window early;
        # without one, the parent's replay (if any) is already too old to be
        # served (grants.RefreshTokenGrant._grace_replay).
        end_parent = replay is not None and old.parent_id is not None
        with self.transaction() as session:
            one_statement = self.statements.one_statement_rotation(
                self.dialect(session),
                end_parent_replay=end_parent,
                successor=tuple(successor),
                access=tuple(access),
            )
            if one_statement is not None:
                params = {
                    **retire,
                    "retire_parent_id": old.parent_id,
                    **rows.prefixed("successor_", successor),
                    **rows.prefixed("access_", access),
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
        if rowcount(session, self.statements.retire, retire) != 1:
            return False
        if parent_id is not None:
            rowcount(
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

    def reload(self, token: RefreshTokenMixin | AuthorizationCodeMixin) -> None:
        """Read ``token``'s row again, as committed by other transactions."""
        self.session.refresh(token)

    def issue_access_token(
        self, refresh: RefreshTokenMixin, issued: IssuedTokens, *, now: int
    ) -> bool:
        """Store a new access token for a refresh token that is not renewed.

        Returns ``False``, and stores nothing, when ``refresh`` was revoked (or
        rotated out) by the time of the write, since it was read.
        """
        _, access = rows.access_token_for(self.models, refresh, issued, now=now)
        with self.transaction() as session:
            statement = self.statements.access_token_if_live(
                self.dialect(session), tuple(access)
            )
            if statement is not None:
                params = {**rows.prefixed("access_", access), "refresh_id": refresh.id}
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

    def revoke_access_token(self, token: AccessTokenMixin, *, now: int) -> None:
        """Revoke one access token."""
        model = self.models.access_token
        with self.transaction() as session:
            rowcount(
                session,
                update(model)
                .where(model.id == token.id, model.revoked_at.is_(None))
                .values(revoked_at=now),
            )

    def revoke_family(self, family_id: str, *, now: int, reason: str) -> int:
        """Revoke every live refresh and access token of a family, in one
        commit, recording ``reason`` (see :mod:`..reasons`).

        Returns how many rows were revoked.
        """
        return self.revoke_matching(now, reason, family_id=family_id)
