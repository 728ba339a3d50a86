"""The floor: the least a Flask + Flask-SQLAlchemy server must do per refresh.

``gunicorn --pythonpath bench 'apps.floor_app:create_app()'``, configured by the
environment: ``DATABASE_URL``; ``BENCH_ROTATE`` (default ``true``);
``BENCH_CLIENT_ID`` / ``BENCH_CLIENT_SECRET`` (the one client, checked in
memory: HTTP Basic, SHA-256 digest, constant-time compare — no SQL);
``BENCH_ENGINE_OPTIONS`` (JSON, see ``core/common.py``).

Per refresh with rotation: parse the form, one indexed ``SELECT`` by the
token's SHA-256 digest, one conditional ``UPDATE … WHERE rotated_at IS NULL``
checked by its row count, one ``INSERT`` (the successor row carries the new
refresh token's and the new access token's digests), commit, JSON. Without
rotation: ``SELECT`` + one ``INSERT`` (the access token), commit, JSON with
the presented refresh token. No policy, no signals, no Authlib, no ORM
objects: SQLAlchemy Core statements on Flask-SQLAlchemy's session.

The resource floor, ``GET /api/resource`` with ``Authorization: Bearer``:
one indexed ``SELECT`` by the access token's digest, an expiry check, JSON
with the token's client, user and scope (``401`` otherwise).
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
    RESOURCE_PATH,
    database_url_from_env,
    env_engine_options,
    env_flag,
    use_sqlite_pragmas,
)
from flask import Flask, Response, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import BigInteger, Integer, String, Text, insert, select, update
from sqlalchemy.orm import Mapped, mapped_column

db = SQLAlchemy()

_ID = BigInteger().with_variant(Integer(), "sqlite")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class FloorToken(db.Model):  # type: ignore[name-defined,misc]
    """One row per issued access token; a refresh token rides on the same row."""

    __tablename__ = "floor_token"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    refresh_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    access_digest: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(255))
    scope: Mapped[str] = mapped_column(Text, default="")
    issued_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int | None] = mapped_column(BigInteger)
    rotated_at: Mapped[int | None] = mapped_column(BigInteger)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _error(status: int, error: str) -> Response:
    response = jsonify(error=error)
    response.status_code = status
    response.headers.update(_NO_STORE)
    return response


def create_app() -> Flask:
    app = Flask(__name__)
    url = database_url_from_env()
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = env_engine_options(url)
    db.init_app(app)
    rotate = env_flag("BENCH_ROTATE", True)
    client_id = os.environ.get("BENCH_CLIENT_ID", "floor-client")
    secret_digest = digest(os.environ.get("BENCH_CLIENT_SECRET", "floor-secret"))
    table: Any = FloorToken.__table__

    @app.post("/oauth2/token")
    def token() -> Response:
        auth = request.authorization
        if (
            auth is None
            or auth.username != client_id
            or not hmac.compare_digest(digest(auth.password or ""), secret_digest)
        ):
            return _error(401, "invalid_client")
        form = request.form
        presented = form.get("refresh_token")
        if form.get("grant_type") != "refresh_token" or not presented:
            return _error(400, "invalid_request")
        now = int(time.time())
        session = db.session
        row = session.execute(
            select(
                table.c.id,
                table.c.client_id,
                table.c.user_id,
                table.c.scope,
                table.c.expires_at,
                table.c.rotated_at,
            ).where(table.c.refresh_digest == digest(presented))
        ).first()
        if (
            row is None
            or row.client_id != client_id
            or row.rotated_at is not None
            or (row.expires_at is not None and row.expires_at <= now)
        ):
            session.rollback()
            return _error(400, "invalid_grant")
        access_token = secrets.token_urlsafe(32)
        body: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME,
        }
        if rotate:
            retired = session.execute(
                update(table)
                .where(table.c.id == row.id, table.c.rotated_at.is_(None))
                .values(rotated_at=now)
            ).rowcount  # type: ignore[attr-defined]
            if retired != 1:
                session.rollback()
                return _error(400, "invalid_grant")
            new_refresh = secrets.token_urlsafe(32)
            expires_at = now + REFRESH_TOKEN_LIFETIME
            refresh_digest: str | None = digest(new_refresh)
        else:
            new_refresh = presented
            expires_at = row.expires_at
            refresh_digest = None
        session.execute(
            insert(table).values(
                refresh_digest=refresh_digest,
                access_digest=digest(access_token),
                client_id=row.client_id,
                user_id=row.user_id,
                scope=row.scope,
                issued_at=now,
                expires_at=expires_at if rotate else now + ACCESS_TOKEN_LIFETIME,
            )
        )
        session.commit()
        body["refresh_token"] = new_refresh
        if expires_at is not None:
            body["refresh_token_expires_in"] = max(0, expires_at - now)
        body["scope"] = row.scope
        response = jsonify(body)
        response.headers.update(_NO_STORE)
        return response

    @app.get(RESOURCE_PATH)
    def resource() -> Response:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        row = None
        if scheme.lower() == "bearer" and presented:
            row = db.session.execute(
                select(
                    table.c.client_id,
                    table.c.user_id,
                    table.c.scope,
                    table.c.issued_at,
                ).where(table.c.access_digest == digest(presented))
            ).first()
        if row is None or row.issued_at + ACCESS_TOKEN_LIFETIME <= int(time.time()):
            response = _error(401, "invalid_token")
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return response
        return jsonify(client_id=row.client_id, user_id=row.user_id, scope=row.scope)

    with app.app_context():
        use_sqlite_pragmas(db.engine)
        db.create_all()
    return app
