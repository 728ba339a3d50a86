"""A database that cannot be reached: ``503 temporarily_unavailable`` with
``Retry-After`` from every endpoint, and nothing half-written.

PostgreSQL goes away for real: the app reaches it through a TCP relay on
127.0.0.1 that the test closes and reopens. SQLite is made unavailable by
another connection holding an exclusive lock.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from authlib.integrations.flask_oauth2.signals import token_authenticated
from flask import request_finished
from werkzeug.test import TestResponse

from example_app import create_app
from example_app.models import db as example_db

from .conftest import (
    FakeClock,
    Harness,
    basic_auth,
    build_app,
    require_postgres,
    reset_postgres,
)


class Relay:
    """A TCP relay to ``target`` that can be taken down and brought back."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        with self._lock:
            if self._listener is not None:
                # shutdown() wakes the thread blocked in accept(); close() alone
                # would leave the socket listening until that call returned.
                self._listener.shutdown(socket.SHUT_RDWR)
                self._listener.close()
                self._listener = None
            for sock in self._open:
                # shutdown() first: close() alone leaves a socket open while
                # a _pipe thread is blocked in recv() on it, and the server
                # would keep that connection (and its transaction's locks).
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            with self._lock:
                self._open.update((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def assert_unavailable(response: TestResponse) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.json == {
        "error": "temporarily_unavailable",
        "error_description": "The server is temporarily unable to handle the request.",
    }
    assert response.headers["Retry-After"].isdigit()
    assert response.headers["Cache-Control"] == "no-store"


def every_endpoint(
    h: Harness, client: Any, tokens: dict[str, Any]
) -> list[TestResponse]:
    assert client.client_secret is not None
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    return [
        h.refresh(client, tokens["refresh_token"]),
        h.password_grant(client),
        h.token({"grant_type": "client_credentials"}, client),
        h.client.post(
            "/oauth2/revoke",
            data={"token": tokens["refresh_token"]},
            headers=_basic(client),
        ),
        h.client.post(
            "/oauth2/introspect",
            data={"token": tokens["refresh_token"]},
            headers=_basic(client),
        ),
        h.client.get("/api/ping", headers=auth),
    ]


def _basic(client: Any) -> dict[str, str]:
    return {"Authorization": basic_auth(client.client_id, client.client_secret)}


@pytest.fixture
def relayed_postgres() -> Iterator[tuple[Relay, str]]:
    url = sa.engine.make_url(require_postgres())
    reset_postgres(str(url.render_as_string(hide_password=False)))
    relay = Relay((url.host or "127.0.0.1", url.port or 5432))
    relay.up()
    yield (
        relay,
        url.set(host="127.0.0.1", port=relay.port).render_as_string(
            hide_password=False
        ),
    )
    relay.down()


def harness_for(url: str, **config: Any) -> Harness:
    clock = FakeClock()
    app, db, oauth, user_model = build_app(url, clock, config)
    h = Harness(app, db, oauth, user_model, app.test_client(), clock)
    h.create_user()
    return h


def test_postgres_going_away_and_coming_back(
    relayed_postgres: tuple[Relay, str],
) -> None:
    relay, url = relayed_postgres
    h = harness_for(url)
    client = h.create_client(
        grant_types=("password", "refresh_token", "client_credentials")
    )
    tokens = h.password_grant(client).json
    assert tokens is not None

    relay.down()
    for response in every_endpoint(h, client, tokens):
        assert_unavailable(response)

    relay.up()
    # The refresh token valid before the outage is valid after it, once.
    renewed = h.refresh(client, tokens["refresh_token"])
    assert renewed.status_code == 200
    assert renewed.json is not None
    assert h.refresh(client, renewed.json["refresh_token"]).status_code == 200
    with h.app.app_context():
        h.db.engine.dispose()


def test_sqlite_locked_by_another_writer(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    h = harness_for(
        f"sqlite:///{path}",
        SQLALCHEMY_ENGINE_OPTIONS={
            "poolclass": sa.pool.NullPool,
            "connect_args": {"timeout": 0.05},
        },
    )
    client = h.create_client(
        grant_types=("password", "refresh_token", "client_credentials")
    )
    tokens = h.password_grant(client).json
    assert tokens is not None

    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        for response in every_endpoint(h, client, tokens):
            assert_unavailable(response)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    renewed = h.refresh(client, tokens["refresh_token"])
    assert renewed.status_code == 200
    with h.app.app_context():
        h.db.engine.dispose()


def test_example_api_me_when_postgres_goes_away_after_the_token_check(
    relayed_postgres: tuple[Relay, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Found by bench/soak: ``/api/me`` reads the user after
    ``require_oauth`` has checked the token; a database lost in between was
    an HTML 500. The example app answers 503 JSON with Retry-After."""
    relay, url = relayed_postgres
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("EXAMPLE_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({"EXAMPLE_QUIET": True})
    client = app.test_client()
    client_id, secret = _demo_credentials(tmp_path / "instance")
    tokens = client.post(
        "/oauth2/token",
        data={"grant_type": "password", "username": "demo", "password": "demo"},
        headers={"Authorization": basic_auth(client_id, secret)},
    ).json
    assert tokens is not None
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}

    def lose_database(sender: object, **kwargs: object) -> None:
        relay.down()

    token_authenticated.connect(lose_database)
    try:
        response = client.get("/api/me", headers=bearer)
    finally:
        token_authenticated.disconnect(lose_database)
    assert_unavailable(response)

    relay.up()
    assert client.get("/api/me", headers=bearer).status_code == 200
    with app.app_context():
        example_db.engine.dispose()


def _demo_credentials(instance: Path) -> tuple[str, str]:
    data = json.loads((instance / "demo-client.json").read_text())
    return data["client_id"], data["client_secret"]


def test_example_app_starts_while_postgres_is_down(
    relayed_postgres: tuple[Relay, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Found by bench/soak: a gunicorn worker restarted (after a SIGKILL)
    while PostgreSQL restarted failed to boot, and gunicorn then stopped
    every worker. The app starts, answers 503 until the database is back,
    then creates its tables and demo data and serves."""
    relay, url = relayed_postgres
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("EXAMPLE_INSTANCE_PATH", str(tmp_path / "instance"))
    relay.down()
    app = create_app({"EXAMPLE_QUIET": True})
    client = app.test_client()
    form = {"grant_type": "password", "username": "demo", "password": "demo"}
    assert_unavailable(client.post("/oauth2/token", data=form))
    unavailable = client.get("/api/me", headers={"Authorization": "Bearer x"})
    assert_unavailable(unavailable)

    relay.up()
    client.get("/login")  # the first request that reaches the database
    client_id, secret = _demo_credentials(tmp_path / "instance")
    answer = client.post(
        "/oauth2/token",
        data=form,
        headers={"Authorization": basic_auth(client_id, secret)},
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    with app.app_context():
        example_db.engine.dispose()


def test_postgres_going_away_after_the_response_is_made(
    relayed_postgres: tuple[Relay, str],
) -> None:
    """Found by bench/soak: PostgreSQL shut down after ``/api/me`` had made
    its response but before the request's session was removed; the
    teardown's ROLLBACK failed and gunicorn answered 500. The response
    stands, and the next request after the outage works."""
    relay, url = relayed_postgres
    h = harness_for(url)
    client = h.create_client()
    tokens = h.password_grant(client).json
    assert tokens is not None
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}

    def lose_database(sender: object, **kwargs: object) -> None:
        relay.down()

    request_finished.connect(lose_database, h.app)
    try:
        response = h.client.get("/api/ping", headers=bearer)
    finally:
        request_finished.disconnect(lose_database, h.app)
    assert response.status_code == 200, response.get_data(as_text=True)

    relay.up()
    assert h.client.get("/api/ping", headers=bearer).status_code == 200
    with h.app.app_context():
        h.db.engine.dispose()
