"""Which database the example app uses and how it connects to it.

SQLite in the instance folder unless ``DATABASE_URL`` names another (PostgreSQL
in practice); the engine options and SQLite pragmas let several workers share
one SQLite file; when it cannot be reached, the app's own views answer 503.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy


def database_url(instance: Path) -> str:
    """``DATABASE_URL`` if set (``postgres://`` accepted), else SQLite in ``instance``."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{instance / 'example.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def database_engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # Wait for a writer instead of failing at once (several workers).
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True}


def use_sqlite_pragmas(engine: Engine) -> None:
    """WAL lets readers run beside the one writer; all wait up to 30 s."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def set_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


#: What a database that is down, unreachable or out of connections raises.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeoutError,
)
#: Seconds a client is told to wait, as the extension's endpoints say.
RETRY_AFTER_SECONDS = "5"


def answer_outages(app: Flask, db: SQLAlchemy) -> None:
    """The app's own views answer ``503`` with ``Retry-After`` when the
    database cannot be reached, as the extension's endpoints do (their
    blueprint handles it first): JSON ``temporarily_unavailable`` under
    ``/api/``, a short page elsewhere. A route guarded by ``require_oauth``
    reads the database again after the token check (``load_user``), so the
    database can go away in between."""

    def unavailable(error: Exception) -> ResponseReturnValue:
        app.logger.warning("example app: database unavailable: %s", error)
        with contextlib.suppress(Exception):
            db.session.rollback()
        headers = {"Retry-After": RETRY_AFTER_SECONDS, "Cache-Control": "no-store"}
        if request.path.startswith("/api/"):
            body = {
                "error": "temporarily_unavailable",
                "error_description": "The server is temporarily unable to "
                "handle the request.",
            }
            return jsonify(body), 503, headers
        page = "<!doctype html><title>Try again soon</title><p>The database is "
        page += "unavailable for a moment. Try again in a few seconds.</p>"
        return page, 503, {**headers, "Content-Type": "text/html; charset=utf-8"}

    for error in DATABASE_UNAVAILABLE:
        app.register_error_handler(error, unavailable)
