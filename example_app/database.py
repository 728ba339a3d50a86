"""Which database the example app uses and how it connects to it.

SQLite in the instance folder unless ``DATABASE_URL`` names another (PostgreSQL
in practice); the engine options and SQLite pragmas let several workers share
one SQLite file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


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
