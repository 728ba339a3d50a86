"""Database choice, tables and the demo seed, safe when workers start at once."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from flask_refreshgrant import RefreshGrant

from .models import User, db, oauth

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo"  # noqa: S105 (the demo account)
DEMO_CLIENT_NAME = "Demo client"
DEMO_SCOPE = "PRODUCTION SANDBOX"
DEMO_GRANT_TYPES = ("password", "refresh_token", "authorization_code")
#: The demo client's secret is kept here for the banner: a convenience of the
#: example app only (the extension itself stores nothing but a digest).
DEMO_CREDENTIALS_FILE = "demo-client.json"


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


@contextmanager
def _instance_lock(app: Flask) -> Iterator[None]:
    """Serialise table creation and seeding across processes on this host."""
    path = Path(app.instance_path) / ".setup.lock"
    with path.open("a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


def prepare_database(app: Flask) -> None:
    """Create the tables and, on first start, the demo user and client."""
    use_sqlite_pragmas(db.engine)
    with _instance_lock(app):
        db.create_all()
        credentials = Path(app.instance_path) / DEMO_CREDENTIALS_FILE
        seeded = False
        if db.session.query(User).filter_by(username=DEMO_USERNAME).first() is None:
            user = User(username=DEMO_USERNAME)
            user.set_password(DEMO_PASSWORD)
            db.session.add(user)
            db.session.commit()
            seeded = True
        if not credentials.exists() or _demo_client_missing(app, credentials):
            created = oauth.create_client(
                name=DEMO_CLIENT_NAME,
                grant_types=list(DEMO_GRANT_TYPES),
                scope=DEMO_SCOPE,
                redirect_uris=[demo_redirect_uri(app)],
            )
            credentials.touch(mode=0o600)
            credentials.write_text(
                json.dumps(
                    {
                        "client_id": created.client_id,
                        "client_secret": created.client_secret,
                    }
                )
            )
            seeded = True
        else:
            _update_demo_client(app, credentials)
    if seeded and not app.config["EXAMPLE_QUIET"]:
        print(banner(app), flush=True)


def demo_redirect_uri(app: Flask) -> str:
    """The demo client's redirect URI: ``/callback`` under ``EXAMPLE_BASE_URL``."""
    return str(app.config["EXAMPLE_BASE_URL"]).rstrip("/") + "/callback"


def _update_demo_client(app: Flask, credentials: Path) -> None:
    """An instance seeded before the web pages, or served at another base URL
    (``scripts/run-example --port 8000``), gets the current redirect URI and
    the authorization code grant added to its demo client."""
    client_id = json.loads(credentials.read_text())["client_id"]
    client = RefreshGrant.state(app).store.get_client(client_id)
    if client is None:  # pragma: no cover (checked by the caller, under the lock)
        return
    uris = client.redirect_uris.split()
    grant_types = client.grant_types.split()
    wanted_uri = demo_redirect_uri(app)
    missing = [grant for grant in DEMO_GRANT_TYPES if grant not in grant_types]
    if wanted_uri in uris and not missing:
        return
    client.redirect_uris = " ".join(dict.fromkeys([*uris, wanted_uri]))
    client.grant_types = " ".join([*grant_types, *missing])
    db.session.commit()


def _demo_client_missing(app: Flask, credentials: Path) -> bool:
    client_id = json.loads(credentials.read_text())["client_id"]
    return RefreshGrant.state(app).store.get_client(client_id) is None


def demo_credentials(app: Flask) -> dict[str, str]:
    path = Path(app.instance_path) / DEMO_CREDENTIALS_FILE
    return dict(json.loads(path.read_text()))


def banner(app: Flask) -> str:
    """The demo credentials and curl commands that work when pasted."""
    creds = demo_credentials(app)
    client_id, secret = creds["client_id"], creds["client_secret"]
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    url = app.config["EXAMPLE_BASE_URL"] + RefreshGrant.state(app).settings.url_prefix
    token_url = shlex.quote(url + "/token")
    extract = (
        "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"refresh_token\"])'"
    )
    return f"""
=== flask-refreshgrant example app ===
demo user:     {DEMO_USERNAME} / {DEMO_PASSWORD}
client_id:     {client_id}
client_secret: {secret}
scopes:        {DEMO_SCOPE}
web page:      {app.config["EXAMPLE_BASE_URL"]}/  (get tokens through the UI)

# 1. Password grant: an access token and a refresh token
curl -s -u {client_id}:{secret} -d grant_type=password -d username={DEMO_USERNAME} -d password={DEMO_PASSWORD} -d 'scope={DEMO_SCOPE}' {token_url}

# 2. Refresh grant (paste the refresh_token from step 1 in place of REFRESH_TOKEN)
curl -s -H 'Authorization: Basic {basic}' -d 'grant_type=refresh_token&refresh_token=REFRESH_TOKEN&scope=PRODUCTION' {token_url}

# Or both at once:
REFRESH_TOKEN=$(curl -s -u {client_id}:{secret} -d grant_type=password -d username={DEMO_USERNAME} -d password={DEMO_PASSWORD} -d 'scope={DEMO_SCOPE}' {token_url} | {extract})
curl -s -H 'Authorization: Basic {basic}' -d "grant_type=refresh_token&refresh_token=$REFRESH_TOKEN&scope=PRODUCTION" {token_url}

# Call the protected API with an access_token:
curl -s -H 'Authorization: Bearer ACCESS_TOKEN' {shlex.quote(app.config["EXAMPLE_BASE_URL"] + "/api/me")}
"""
