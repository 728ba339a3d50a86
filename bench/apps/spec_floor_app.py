"""The spec floor: the least a refresh must do to meet the SPEC, and no more.

``gunicorn --pythonpath bench 'apps.spec_floor_app:create_app()'``, configured
like the bare floor (``apps/floor_app.py``) by the environment:
``DATABASE_URL``, ``BENCH_ROTATE`` (default ``true``), ``BENCH_CLIENT_ID`` /
``BENCH_CLIENT_SECRET`` (the client the seeder registers),
``BENCH_ENGINE_OPTIONS``.

The bare floor authenticates its one client from memory, never checks the
user, and stores the new access token on the refresh token's row. This one
does what the SPEC makes necessary, with statements built once at start-up
(SQLAlchemy Core on Flask-SQLAlchemy's session, no ORM objects, no Authlib):

1. ``SELECT`` the presented refresh token (by its SHA-256 digest, unique
   index) joined with its client row (SPEC §6: digests only);
2. client authentication against that row: HTTP Basic, the client id, the
   secret's SHA-256 digest compared in constant time, and the client's
   right to the ``refresh_token`` grant (an unknown token costs a
   ``SELECT`` of the client instead, to tell ``invalid_client`` from
   ``invalid_grant``);
3. the token's checks: same client, not revoked, not rotated out, not
   expired;
4. ``SELECT`` the user row (SPEC §2: a user who no longer loads is refused);
5. with rotation: the conditional retire ``UPDATE … WHERE rotated_at IS NULL
   AND revoked_at IS NULL`` checked by its row count, the successor's
   ``INSERT`` and the access token's ``INSERT`` (SPEC §6: in the same
   transaction); without: the access token's ``INSERT … SELECT … WHERE
   EXISTS`` (the refresh token still live, ``FOR SHARE`` on PostgreSQL),
   checked by its row count;
6. commit, JSON with ``Cache-Control: no-store``.

Access tokens are rows of their own, every token row records its family,
parent, issue, expiry and revocation times (SPEC §6). Not here, because the
SPEC does not make them necessary on this path: Authlib, signals, metrics,
DPoP, grace periods, per-client settings, scope narrowing. ``seed`` writes
the client, the user and the grants (``apps/seed.py`` calls it).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from typing import Any

from core.common import (
    ACCESS_TOKEN_LIFETIME,
    REFRESH_TOKEN_LIFETIME,
    SCOPE,
    database_url_from_env,
    env_engine_options,
    env_flag,
    use_sqlite_pragmas,
)
from flask import Flask, Response, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    String,
    Text,
    bindparam,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

db = SQLAlchemy()

_ID = BigInteger().with_variant(Integer(), "sqlite")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class SpecClient(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "spec_client"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    secret_digest: Mapped[str] = mapped_column(String(64))
    grant_types: Mapped[str] = mapped_column(Text)


class SpecUser(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "spec_user"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    username: Mapped[str] = mapped_column(String(255))


class SpecRefreshToken(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "spec_refresh_token"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("spec_client.client_id"))
    user_id: Mapped[str] = mapped_column(String(255))
    scope: Mapped[str] = mapped_column(Text)
    family_id: Mapped[str] = mapped_column(String(64), index=True)
    parent_id: Mapped[int | None] = mapped_column(_ID)
    issued_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int | None] = mapped_column(BigInteger)
    rotated_at: Mapped[int | None] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)


class SpecAccessToken(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "spec_access_token"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(255))
    scope: Mapped[str] = mapped_column(Text)
    family_id: Mapped[str] = mapped_column(String(64), index=True)
    issued_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _error(status: int, error: str) -> Response:
    response = jsonify(error=error)
    response.status_code = status
    response.headers.update(_NO_STORE)
    return response


class Statements:
    """The hot path's statements, built once."""

    def __init__(self) -> None:
        rt: Any = SpecRefreshToken.__table__
        at: Any = SpecAccessToken.__table__
        client: Any = SpecClient.__table__
        user: Any = SpecUser.__table__
        self.token_and_client = (
            select(
                rt.c.id,
                rt.c.client_id,
                rt.c.user_id,
                rt.c.scope,
                rt.c.family_id,
                rt.c.expires_at,
                rt.c.rotated_at,
                rt.c.revoked_at,
                client.c.secret_digest,
                client.c.grant_types,
            )
            .join_from(rt, client, client.c.client_id == rt.c.client_id)
            .where(rt.c.digest == bindparam("digest"))
        )
        self.client = select(client.c.secret_digest, client.c.grant_types).where(
            client.c.client_id == bindparam("client_id")
        )
        self.user = select(user.c.id).where(user.c.id == bindparam("user_id"))
        self.retire = (
            update(rt)
            .where(
                rt.c.id == bindparam("retire_id"),
                rt.c.rotated_at.is_(None),
                rt.c.revoked_at.is_(None),
            )
            .values(rotated_at=bindparam("now"))
        )
        self.insert_refresh = insert(rt)
        self.insert_access = insert(at)
        live = (
            select(rt.c.id)
            .where(
                rt.c.id == bindparam("refresh_id"),
                rt.c.rotated_at.is_(None),
                rt.c.revoked_at.is_(None),
            )
            .with_for_update(read=True)
            .exists()
        )
        columns = (
            "digest",
            "client_id",
            "user_id",
            "scope",
            "family_id",
            "issued_at",
            "expires_at",
        )
        values = select(
            *(bindparam(f"a_{name}", type_=at.c[name].type) for name in columns)
        ).where(live)
        self.access_if_live = insert(at).from_select(columns, values)
        #: Where the database returns rows from an INSERT, the new row says
        #: that one was inserted (psycopg gives no row count for
        #: ``INSERT … SELECT`` through SQLAlchemy).
        self.access_if_live_returning = self.access_if_live.returning(at.c.id)


def _authenticate(row: Any, secret: str) -> bool:
    """The client's secret (constant time) and its right to the refresh grant."""
    return (
        hmac.compare_digest(digest(secret), row.secret_digest)
        and "refresh_token" in row.grant_types.split()
    )


def create_app() -> Flask:
    app = Flask(__name__)
    url = database_url_from_env()
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = env_engine_options(url)
    db.init_app(app)
    rotate = env_flag("BENCH_ROTATE", True)
    sql = Statements()
    with app.app_context():
        use_sqlite_pragmas(db.engine)
        db.create_all()
        returning = db.engine.dialect.insert_returning

    @app.post("/oauth2/token")
    def token() -> Response:
        auth = request.authorization
        if auth is None or auth.type != "basic" or not auth.username:
            return _error(401, "invalid_client")
        client_id, secret = auth.username, auth.password or ""
        form = request.form
        presented = form.get("refresh_token")
        if form.get("grant_type") != "refresh_token" or not presented:
            return _error(400, "invalid_request")
        now = int(time.time())
        session = db.session
        row = session.execute(
            sql.token_and_client, {"digest": digest(presented)}
        ).first()
        if row is None or row.client_id != client_id:
            # Which error: the client's own row says whether it authenticates.
            client = session.execute(sql.client, {"client_id": client_id}).first()
            session.rollback()
            if client is None or not _authenticate(client, secret):
                return _error(401, "invalid_client")
            return _error(400, "invalid_grant")
        if not _authenticate(row, secret):
            session.rollback()
            return _error(401, "invalid_client")
        if (
            row.revoked_at is not None
            or row.rotated_at is not None
            or (row.expires_at is not None and row.expires_at <= now)
            or session.execute(sql.user, {"user_id": row.user_id}).first() is None
        ):
            session.rollback()
            return _error(400, "invalid_grant")
        access_token = secrets.token_urlsafe(32)
        access = {
            "digest": digest(access_token),
            "client_id": row.client_id,
            "user_id": row.user_id,
            "scope": row.scope,
            "family_id": row.family_id,
            "issued_at": now,
            "expires_at": now + ACCESS_TOKEN_LIFETIME,
        }
        if rotate:
            retired = session.execute(sql.retire, {"retire_id": row.id, "now": now})
            if retired.rowcount != 1:  # type: ignore[attr-defined]
                session.rollback()
                return _error(400, "invalid_grant")
            refresh_token = secrets.token_urlsafe(32)
            expires_at: int | None = now + REFRESH_TOKEN_LIFETIME
            session.execute(
                sql.insert_refresh,
                {
                    "digest": digest(refresh_token),
                    "client_id": row.client_id,
                    "user_id": row.user_id,
                    "scope": row.scope,
                    "family_id": row.family_id,
                    "parent_id": row.id,
                    "issued_at": now,
                    "expires_at": expires_at,
                },
            )
            session.execute(sql.insert_access, access)
        else:
            refresh_token = presented
            expires_at = row.expires_at
            params = {"refresh_id": row.id, **{f"a_{k}": v for k, v in access.items()}}
            if returning:
                live = session.execute(sql.access_if_live_returning, params).first()
            else:
                live = session.execute(sql.access_if_live, params).rowcount == 1  # type: ignore[attr-defined]
            if not live:
                session.rollback()
                return _error(400, "invalid_grant")
        session.commit()
        body: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "refresh_token": refresh_token,
        }
        if expires_at is not None:
            body["refresh_token_expires_in"] = max(0, expires_at - now)
        body["scope"] = row.scope
        response = jsonify(body)
        response.headers.update(_NO_STORE)
        return response

    return app


def seed(chains: int, background: int, access: int = 0) -> dict[str, Any]:
    """The client, the user, ``chains`` fresh grants and ``access`` access
    tokens (of grants of their own); no bulk rows (``background``): the
    spec floor is not in the scaling section."""
    if background:
        raise SystemExit("spec floor: no --background rows")
    app = create_app()
    client_id = os.environ.get("BENCH_CLIENT_ID", "spec-client")
    secret = os.environ.get("BENCH_CLIENT_SECRET", "spec-secret")
    now = int(time.time())
    tokens = [secrets.token_urlsafe(32) for _ in range(chains + access)]
    access_tokens = [secrets.token_urlsafe(32) for _ in range(access)]
    grant = {"client_id": client_id, "user_id": "1", "scope": SCOPE}
    families = [secrets.token_hex(16) for _ in tokens]
    refresh_rows = [
        {
            **grant,
            "digest": digest(token),
            "family_id": family,
            "parent_id": None,
            "issued_at": now,
            "expires_at": now + REFRESH_TOKEN_LIFETIME,
        }
        for token, family in zip(tokens, families, strict=True)
    ]
    access_rows = [
        {
            **grant,
            "digest": digest(token),
            "family_id": family,
            "issued_at": now,
            "expires_at": now + ACCESS_TOKEN_LIFETIME,
        }
        for token, family in zip(access_tokens, families[chains:], strict=True)
    ]
    with app.app_context(), db.engine.begin() as connection:
        client = SpecClient.__table__
        if connection.execute(select(literal(1)).select_from(client)).first() is None:
            connection.execute(
                insert(client).values(
                    client_id=client_id,
                    secret_digest=digest(secret),
                    grant_types="password refresh_token",
                )
            )
            connection.execute(
                insert(SpecUser.__table__).values(id="1", username="demo")
            )
        if refresh_rows:
            connection.execute(insert(SpecRefreshToken.__table__), refresh_rows)
        if access_rows:
            connection.execute(insert(SpecAccessToken.__table__), access_rows)
    with app.app_context():
        db.engine.dispose()
    return {
        "client_id": client_id,
        "client_secret": secret,
        "tokens": tokens[:chains],
        "access_tokens": access_tokens,
        "rows": {},
    }
