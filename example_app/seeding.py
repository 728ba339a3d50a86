"""Tables and the demo data, created once even when workers start at once.

:func:`prepare_database` runs at every start: it creates the tables and, on
first start, the demo user and the demo client (whose credentials go to the
instance folder, see :mod:`.demo`); later starts bring the demo client's
redirect URIs and grant types up to date.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask

from flask_refreshgrant import RefreshGrant
from flask_refreshgrant.management.registration import check_redirect_uris

from .database import DATABASE_UNAVAILABLE, use_sqlite_pragmas
from .demo import (
    DEMO_CLIENT_NAME,
    DEMO_CREDENTIALS_FILE,
    DEMO_GRANT_TYPES,
    DEMO_PASSWORD,
    DEMO_SCOPE,
    DEMO_USERNAME,
    banner,
    demo_redirect_uris,
)
from .models import User, db, oauth


def prepare_database(app: Flask) -> None:
    """Create the tables and, on first start, the demo user and client.

    When the database cannot be reached the app starts all the same —
    under gunicorn one worker that fails to boot (one restarted while the
    database restarts) stops every worker — and tries again before each
    request until it succeeds; meanwhile requests get ``503``.
    """
    use_sqlite_pragmas(db.engine)
    try:
        _prepare(app)
    except DATABASE_UNAVAILABLE as error:
        app.logger.warning(
            "example app: database unavailable at start (%s); "
            "tables and demo data are checked at the first request",
            error,
        )
        with contextlib.suppress(Exception):
            db.session.rollback()
        _prepare_at_first_request(app)


def _prepare_at_first_request(app: Flask) -> None:
    pending = [True]

    @app.before_request
    def prepare_when_reachable() -> None:
        if pending:
            _prepare(app)  # still unreachable: raises, answered with 503
            pending.clear()


def _prepare(app: Flask) -> None:
    with _instance_lock(app):
        db.create_all()
        added_user = _add_demo_user()
        added_client = _add_or_update_demo_client(app)
    if (added_user or added_client) and not app.config["EXAMPLE_QUIET"]:
        print(banner(app), flush=True)


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


def _add_demo_user() -> bool:
    """Add the demo user unless it exists; True if it was added."""
    if db.session.query(User).filter_by(username=DEMO_USERNAME).first() is not None:
        return False
    user = User(username=DEMO_USERNAME)
    user.set_password(DEMO_PASSWORD)
    db.session.add(user)
    db.session.commit()
    return True


# -- the demo client, through the extension ------------------------------------


def _add_or_update_demo_client(app: Flask) -> bool:
    """Create the demo client and write its credentials file, unless the client
    on file exists (then update it); True if it was created."""
    credentials = Path(app.instance_path) / DEMO_CREDENTIALS_FILE
    if not credentials.exists() or _demo_client_missing(app, credentials):
        created = oauth.create_client(
            name=DEMO_CLIENT_NAME,
            grant_types=list(DEMO_GRANT_TYPES),
            scope=DEMO_SCOPE,
            redirect_uris=demo_redirect_uris(app),
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
        return True
    _update_demo_client(app, credentials)
    return False


def _update_demo_client(app: Flask, credentials: Path) -> None:
    """An instance seeded before the web pages, or served at another base URL
    (``scripts/run-example --port 8000``), gets the current redirect URIs and
    the authorization code grant added to its demo client."""
    client_id = json.loads(credentials.read_text())["client_id"]
    client = RefreshGrant.state(app).store.get_client(client_id)
    if client is None:  # pragma: no cover (checked by the caller, under the lock)
        return
    uris = client.redirect_uris.split()
    grant_types = client.grant_types.split()
    # Checked as a registration would check them (EXAMPLE_BASE_URL may be
    # anything): a bad one fails the start with a clear message.
    wanted = check_redirect_uris(demo_redirect_uris(app), public=False)
    missing = [grant for grant in DEMO_GRANT_TYPES if grant not in grant_types]
    if set(wanted) <= set(uris) and not missing:
        return
    client.redirect_uris = " ".join(dict.fromkeys([*uris, *wanted]))
    client.grant_types = " ".join([*grant_types, *missing])
    db.session.commit()


def _demo_client_missing(app: Flask, credentials: Path) -> bool:
    client_id = json.loads(credentials.read_text())["client_id"]
    return RefreshGrant.state(app).store.get_client(client_id) is None
