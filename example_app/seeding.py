"""Tables and the demo data, created once even when workers start at once.

:func:`prepare_database` runs at every start: it creates the tables and, on
first start on a database, the demo user and the demo client (whose
credentials the database keeps, with a copy in the instance folder, see
:mod:`.demo`); later starts bring the demo client's redirect URIs and grant
types up to date.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from sqlalchemy.exc import IntegrityError

from flask_refreshgrant import RefreshGrant
from flask_refreshgrant.management.registration import check_redirect_uris

from .database import DATABASE_UNAVAILABLE, use_sqlite_pragmas
from .demo import (
    DEMO_CLIENT_NAME,
    DEMO_CREDENTIALS_FILE,
    DEMO_CREDENTIALS_NAME,
    DEMO_GRANT_TYPES,
    DEMO_OIDC_SCOPE,
    DEMO_PASSWORD,
    DEMO_SCOPE,
    DEMO_USERNAME,
    announce,
    banner,
    demo_redirect_uris,
)
from .models import DemoCredentials, User, db, oauth


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
        announce(banner(app))


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
    """Create this database's demo client unless it has one (then bring it
    up to date), and copy its credentials to the instance folder; True if
    it was created."""
    row = db.session.get(DemoCredentials, DEMO_CREDENTIALS_NAME)
    if (
        row is not None
        and RefreshGrant.state(app).store.get_client(row.client_id) is None
    ):
        db.session.delete(row)  # someone deleted the client: make a new one
        db.session.commit()
        row = None
    created = False
    if row is None:
        row = _adopt_credentials_file(app)
    if row is None:
        row, created = _create_demo_client(app)
    _update_demo_client(app, row.client_id)
    _copy_to_instance(app, row)
    return created


def _store_row(row: DemoCredentials) -> DemoCredentials | None:
    """Add ``row``; ``None`` if another process (one with another instance
    folder, so not under our lock) stored this database's row first."""
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return row


def _stored_row() -> DemoCredentials:
    row = db.session.get(DemoCredentials, DEMO_CREDENTIALS_NAME)
    assert row is not None, "lost the demo client's row"
    return row


def _create_demo_client(app: Flask) -> tuple[DemoCredentials, bool]:
    """A new demo client and its row, and True; or the row another process
    stored first, and False."""
    client = oauth.create_client(
        name=DEMO_CLIENT_NAME,
        grant_types=list(DEMO_GRANT_TYPES),
        scope=f"{DEMO_SCOPE} {DEMO_OIDC_SCOPE}",
        redirect_uris=demo_redirect_uris(app),
    )
    assert client.client_secret is not None
    row = _store_row(
        DemoCredentials(
            name=DEMO_CREDENTIALS_NAME,
            client_id=client.client_id,
            client_secret=client.client_secret,
        )
    )
    if row is None:
        oauth.delete_client(client.client_id)
        return _stored_row(), False
    return row, True


def _adopt_credentials_file(app: Flask) -> DemoCredentials | None:
    """A database seeded before the credentials moved into it: the instance
    folder's copy names its demo client; keep that one (no new client, and
    the secret people pasted keeps working)."""
    path = Path(app.instance_path) / DEMO_CREDENTIALS_FILE
    try:
        data = json.loads(path.read_text())
        client_id, secret = str(data["client_id"]), str(data["client_secret"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if RefreshGrant.state(app).store.get_client(client_id) is None:
        return None  # the copy is another database's
    row = DemoCredentials(
        name=DEMO_CREDENTIALS_NAME, client_id=client_id, client_secret=secret
    )
    return _store_row(row) or _stored_row()


def _copy_to_instance(app: Flask, row: DemoCredentials) -> None:
    """``instance/demo-client.json`` (mode 0600): the credentials of the
    database the app last started with, for scripts."""
    path = Path(app.instance_path) / DEMO_CREDENTIALS_FILE
    text = json.dumps({"client_id": row.client_id, "client_secret": row.client_secret})
    try:
        if path.read_text() == text:
            return
    except OSError:
        pass
    path.touch(mode=0o600)
    path.write_text(text)


def _update_demo_client(app: Flask, client_id: str) -> None:
    """An instance seeded before the web pages, or served at another base URL
    (``scripts/run-example --port 8000``), gets the current redirect URIs and
    the authorization code grant added to its demo client."""
    client = RefreshGrant.state(app).store.get_client(client_id)
    if client is None:  # pragma: no cover (checked by the caller, under the lock)
        return
    uris = client.redirect_uris.split()
    grant_types = client.grant_types.split()
    # Checked as a registration would check them (EXAMPLE_BASE_URL may be
    # anything): a bad one fails the start with a clear message.
    wanted = check_redirect_uris(demo_redirect_uris(app), public=False)
    missing = [grant for grant in DEMO_GRANT_TYPES if grant not in grant_types]
    scopes = client.scope.split()
    if set(wanted) <= set(uris) and not missing and DEMO_OIDC_SCOPE in scopes:
        return
    client.redirect_uris = " ".join(dict.fromkeys([*uris, *wanted]))
    client.grant_types = " ".join([*grant_types, *missing])
    client.scope = " ".join(dict.fromkeys([*scopes, DEMO_OIDC_SCOPE]))
    db.session.commit()
