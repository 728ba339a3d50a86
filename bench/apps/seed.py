"""Seed a benchmarked server's database: refresh-token chains and bulk token rows.

``python bench/apps/seed.py KIND --chains N --background M`` with the server's
environment (``DATABASE_URL``, and for the project ``EXAMPLE_INSTANCE_PATH``
…) creates the tables, the client and user, ``N`` fresh grants whose refresh
tokens start the load generator's chains, ``--access A`` more grants whose
access tokens the resource section presents, and ``M`` more rows in each token
table written in bulk (PostgreSQL ``COPY``, SQLite ``executemany``) — never
over HTTP. It prints one JSON object: the client's id and secret, the
refresh tokens and the row count of each token table.

KIND is ``project`` (the example app: its grants come from its own password
grant through Flask's test client, or with ``--code-scope SCOPE`` the
chains' from its authorization code grant with that scope; bulk rows are
clones of a real row, so they follow whatever columns the models have),
``floor``, ``spec`` (the spec floor, chains only) or ``recipe``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import sys
import time
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH_DIR))
# The example app is a package at the repository root.
sys.path.append(str(BENCH_DIR.parent))

from core.common import (  # noqa: E402
    ACCESS_TOKEN_LIFETIME,
    REFRESH_TOKEN_LIFETIME,
    SCOPE,
    TOKEN_PATH,
    basic_auth,
)
from sqlalchemy import Table, func, select  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

#: Columns that get a distinct value in every bulk row (besides unique ones).
_DISTINCT = {"refresh_token", "family_id", "refresh_digest", "access_token", "digest"}
#: Of the bulk rows, this fraction is live; the rest are rotated out/revoked
#: (what a table of a rotating server mostly holds).
_LIVE_EVERY = 10

Row = dict[str, Any]


def _batched(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def background_rows(table: Table, template: Row, count: int) -> Iterator[Row]:
    """``count`` clones of ``template`` with fresh unique values, 9 in 10
    retired (rotated out / revoked) as on a server that rotates."""
    primary = {column.name for column in table.primary_key.columns}
    distinct = {c.name for c in table.columns if c.unique} | _DISTINCT
    for index in table.indexes:
        if index.unique and len(index.columns) == 1:
            distinct |= {c.name for c in index.columns}
    base = {k: v for k, v in template.items() if k not in primary}
    distinct &= set(base)
    nonce = secrets.token_hex(8)
    now = int(time.time())
    for i in range(count):
        row = dict(base)
        for name in distinct:
            row[name] = hashlib.sha256(f"{nonce}:{name}:{i}".encode()).hexdigest()
        if i % _LIVE_EVERY:
            for name in ("rotated_at", "refresh_token_revoked_at"):
                if name in row:
                    row[name] = now
        yield row


def bulk_insert(engine: Engine, table: Table, rows: Iterable[Row]) -> int:
    """Write ``rows`` straight into ``table``: ``COPY`` on PostgreSQL,
    ``executemany`` in 50 000-row transactions on SQLite."""
    written = 0
    raw = engine.raw_connection()
    try:
        dbapi: Any = raw.driver_connection
        quote = engine.dialect.identifier_preparer.quote
        if engine.dialect.name == "postgresql":
            columns: list[str] | None = None
            cursor = dbapi.cursor()
            for chunk in _batched(rows, 50_000):
                columns = columns or list(chunk[0])
                names = ", ".join(quote(c) for c in columns)
                with cursor.copy(
                    f"COPY {quote(table.name)} ({names}) FROM STDIN"
                ) as copy:
                    for row in chunk:
                        copy.write_row([row[c] for c in columns])
                written += len(chunk)
                dbapi.commit()
            cursor.execute(f"ANALYZE {quote(table.name)}")
            dbapi.commit()
            cursor.close()
        else:
            dbapi.execute("PRAGMA cache_size=-262144")  # 256 MiB for this load
            for chunk in _batched(rows, 50_000):
                columns = list(chunk[0])
                names = ", ".join(quote(c) for c in columns)
                marks = ", ".join("?" for _ in columns)
                dbapi.executemany(
                    f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})",
                    [tuple(row[c] for c in columns) for row in chunk],
                )
                dbapi.commit()
                written += len(chunk)
            dbapi.execute("ANALYZE")
            dbapi.commit()
            dbapi.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            dbapi.execute("PRAGMA cache_size=-2000")
    finally:
        raw.close()
    return written


def _count(engine: Engine, table: Table) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(table)) or 0)


# -- project (the example app) ---------------------------------------------------

#: The demo client's redirect URI the stored codes name.
CODE_REDIRECT_URI = "http://127.0.0.1/callback"


def code_grant(
    app: Any, client: Any, client_id: str, authorization: str, scope: str
) -> dict[str, Any]:
    """A family from the authorization code grant of the example app's demo
    client: its code stored as ``/authorize`` would store it (the login page
    is not what is measured), then exchanged at the token endpoint."""
    from flask_refreshgrant import RefreshGrant

    code = secrets.token_urlsafe(32)
    with app.app_context():
        state = RefreshGrant.state()
        now = state.server.now()
        state.store.save_authorization_code(
            code,
            client_id=client_id,
            user_id="1",
            redirect_uri=CODE_REDIRECT_URI,
            scope=scope,
            code_challenge=None,
            code_challenge_method=None,
            now=now,
            expires_at=now + 600,
            auth_time=now,
        )
    response = client.post(
        TOKEN_PATH,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CODE_REDIRECT_URI,
        },
        headers={"Authorization": authorization},
    )
    body: dict[str, Any] = response.get_json()
    if response.status_code != 200 or ("id_token" in body) != (
        "openid" in scope.split()
    ):
        raise RuntimeError(f"code grant failed: {response.status_code} {body}")
    return body


def seed_project(
    chains: int, background: int, access: int = 0, code_scope: str | None = None
) -> dict[str, Any]:
    from example_app import create_app
    from example_app.models import db
    from flask_refreshgrant import RefreshGrant

    app = create_app()
    creds = json.loads((Path(app.instance_path) / "demo-client.json").read_text())
    auth = basic_auth(creds["client_id"], creds["client_secret"])
    client = app.test_client()

    def password_grant() -> dict[str, Any]:
        response = client.post(
            TOKEN_PATH,
            data={
                "grant_type": "password",
                "username": "demo",
                "password": "demo",
                "scope": SCOPE,
            },
            headers={"Authorization": auth},
            base_url="http://127.0.0.1",
        )
        body = response.get_json()
        if response.status_code != 200 or "refresh_token" not in body:
            raise RuntimeError(f"password grant failed: {response.status_code} {body}")
        return dict(body)

    def chain_grant() -> dict[str, Any]:
        if code_scope is None:
            return password_grant()
        return code_grant(app, client, creds["client_id"], auth, code_scope)

    tokens = [str(chain_grant()["refresh_token"]) for _ in range(chains)]
    access_tokens = [str(password_grant()["access_token"]) for _ in range(access)]
    counts: dict[str, int] = {}
    with app.app_context():
        models = RefreshGrant.state(app).models
        tables: list[Any] = [
            models.refresh_token.__table__,
            models.access_token.__table__,
        ]
        if background:
            if _count(db.engine, tables[0]) == 0:
                password_grant()
            for table in tables:
                with db.engine.connect() as connection:
                    template = dict(
                        connection.execute(select(table)).mappings().first()
                    )  # type: ignore[arg-type]
                bulk_insert(
                    db.engine, table, background_rows(table, template, background)
                )
        for table in tables:
            counts[table.name] = _count(db.engine, table)
        db.engine.dispose()
    return {
        "client_id": creds["client_id"],
        "client_secret": creds["client_secret"],
        "tokens": tokens,
        "access_tokens": access_tokens,
        "rows": counts,
    }


# -- floor --------------------------------------------------------------------


def seed_floor(chains: int, background: int, access: int = 0) -> dict[str, Any]:
    from apps import floor_app

    app = floor_app.create_app()
    client_id = os.environ.get("BENCH_CLIENT_ID", "floor-client")
    secret = os.environ.get("BENCH_CLIENT_SECRET", "floor-secret")
    db = floor_app.db
    table: Any = floor_app.FloorToken.__table__
    now = int(time.time())

    def row(refresh_token: str | None, access_token: str | None = None) -> Row:
        return {
            "refresh_digest": None
            if refresh_token is None
            else floor_app.digest(refresh_token),
            "access_digest": floor_app.digest(
                access_token or secrets.token_urlsafe(32)
            ),
            "client_id": client_id,
            "user_id": "1",
            "scope": SCOPE,
            "issued_at": now,
            "expires_at": now + REFRESH_TOKEN_LIFETIME,
            "rotated_at": None,
        }

    tokens = [secrets.token_urlsafe(32) for _ in range(chains)]
    access_tokens = [secrets.token_urlsafe(32) for _ in range(access)]
    new_rows = [row(t) for t in tokens]
    new_rows += [row(secrets.token_urlsafe(32), a) for a in access_tokens]
    with app.app_context():
        if new_rows:
            with db.engine.begin() as connection:
                connection.execute(table.insert(), new_rows)
        if background:
            bulk_insert(
                db.engine, table, background_rows(table, row("template"), background)
            )
        counts = {table.name: _count(db.engine, table)}
        db.engine.dispose()
    return {
        "client_id": client_id,
        "client_secret": secret,
        "tokens": tokens,
        "access_tokens": access_tokens,
        "rows": counts,
    }


# -- Authlib recipe -------------------------------------------------------------


def seed_recipe(chains: int, background: int, access: int = 0) -> dict[str, Any]:
    from apps import authlib_recipe_app as recipe

    app = recipe.create_app()
    client_id = os.environ.get("BENCH_CLIENT_ID", "recipe-client")
    secret = os.environ.get("BENCH_CLIENT_SECRET", "recipe-secret")
    db = recipe.db
    table: Any = recipe.OAuth2Token.__table__
    now = int(time.time())

    def row(refresh_token: str, access_token: str | None = None) -> Row:
        return {
            "client_id": client_id,
            "user_id": 1,
            "token_type": "Bearer",
            "access_token": access_token or secrets.token_urlsafe(36),
            "refresh_token": refresh_token,
            "scope": SCOPE,
            "issued_at": now,
            "access_token_revoked_at": 0,
            "refresh_token_revoked_at": 0,
            "expires_in": ACCESS_TOKEN_LIFETIME,
        }

    tokens = [secrets.token_urlsafe(36) for _ in range(chains)]
    access_tokens = [secrets.token_urlsafe(36) for _ in range(access)]
    new_rows = [row(t) for t in tokens]
    new_rows += [row(secrets.token_urlsafe(36), a) for a in access_tokens]
    with app.app_context():
        session = db.session
        if session.get(recipe.User, 1) is None:
            session.add(recipe.User(id=1, username="demo"))
            session.commit()
        if recipe.OAuth2Client.query.filter_by(client_id=client_id).first() is None:
            client = recipe.OAuth2Client(
                client_id=client_id,
                client_secret=secret,
                client_id_issued_at=now,
                user_id=1,
            )
            client.set_client_metadata(
                {
                    "client_name": "bench",
                    "grant_types": ["password", "refresh_token"],
                    "response_types": ["code"],
                    "scope": SCOPE,
                    "token_endpoint_auth_method": "client_secret_basic",
                }
            )
            session.add(client)
            session.commit()
        if new_rows:
            session.execute(table.insert(), new_rows)
            session.commit()
        if background:
            bulk_insert(
                db.engine, table, background_rows(table, row("template"), background)
            )
        counts = {table.name: _count(db.engine, table)}
        session.remove()
        db.engine.dispose()
    return {
        "client_id": client_id,
        "client_secret": secret,
        "tokens": tokens,
        "access_tokens": access_tokens,
        "rows": counts,
    }


def seed_spec(chains: int, background: int, access: int = 0) -> dict[str, Any]:
    from apps import spec_floor_app

    return spec_floor_app.seed(chains, background, access)


SEEDERS = {
    "project": seed_project,
    "floor": seed_floor,
    "spec": seed_spec,
    "recipe": seed_recipe,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(SEEDERS))
    parser.add_argument("--chains", type=int, default=0, help="fresh grants to issue")
    parser.add_argument(
        "--background", type=int, default=0, help="bulk rows per token table"
    )
    parser.add_argument(
        "--access", type=int, default=0, help="fresh grants for their access tokens"
    )
    parser.add_argument(
        "--code-scope",
        help="project: the chains' grants from the authorization code grant "
        "with this scope (default: the password grant)",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.code_scope is not None:
        if args.kind != "project":
            parser.error("--code-scope: project only")
        result = seed_project(
            args.chains, args.background, args.access, args.code_scope
        )
    else:
        result = SEEDERS[args.kind](args.chains, args.background, args.access)
    result["seconds"] = round(time.perf_counter() - started, 2)
    # The JSON result is the last line; the example app may print a banner.
    sys.stdout.write("\n" + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
