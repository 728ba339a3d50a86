"""What every benchmarked server shares, so that they differ only in their code.

The three servers (the floor, the Authlib recipe and the project's example
app) get the same database settings: on SQLite a file in WAL mode with a
30 s busy timeout (exactly what the example app sets), on PostgreSQL the same
pool options. The bench apps read them from ``BENCH_ENGINE_OPTIONS`` (JSON);
the example app gets the same JSON through ``FLASK_SQLALCHEMY_ENGINE_OPTIONS``.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

#: The refresh token lifetime every server uses (the project's default).
REFRESH_TOKEN_LIFETIME = 86400
#: The access token lifetime every server uses (the project's default).
ACCESS_TOKEN_LIFETIME = 3600
#: The scope every seeded grant has (the example app's demo client's).
SCOPE = "PRODUCTION SANDBOX"
#: Where every server's token endpoint is.
TOKEN_PATH = "/oauth2/token"
#: The protected route of the resource section (GET with a bearer token):
#: the token's client, user and scope as JSON.
RESOURCE_PATH = "/api/resource"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def engine_options(url: str, pg_pre_ping: bool = True) -> dict[str, Any]:
    """The engine options every server gets for ``url``.

    SQLite: the example app's own (``timeout=30``; the WAL and busy-timeout
    pragmas come from :func:`use_sqlite_pragmas`). PostgreSQL: the example
    app's ``pool_pre_ping`` (a ``SELECT 1`` per checkout) and SQLAlchemy's
    default pool size, spelled out.
    """
    if is_sqlite(url):
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": pg_pre_ping, "pool_size": 5, "max_overflow": 10}


def env_engine_options(url: str) -> dict[str, Any]:
    raw = os.environ.get("BENCH_ENGINE_OPTIONS")
    return dict(json.loads(raw)) if raw else engine_options(url)


def use_sqlite_pragmas(engine: Engine) -> None:
    """The example app's pragmas (``example_app/database.py``), for the bench apps."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def set_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


def env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def database_url_from_env() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("DATABASE_URL must be set")
    return url


def basic_auth(client_id: str, client_secret: str) -> str:
    """The ``Authorization`` header value for HTTP Basic client authentication."""
    pair = f"{client_id}:{client_secret}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")
