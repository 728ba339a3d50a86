"""Shared fixtures: a database over SQLite and PostgreSQL, a fake clock, an app.

PostgreSQL comes from ``TEST_DATABASE_URL`` (``.ci/run`` starts one). Without
it the PostgreSQL half of the suite is skipped, unless ``REQUIRE_POSTGRES=1``,
which turns the skip into a failure.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from blinker import Signal
from flask import Flask, request
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.test import TestResponse

from flask_refreshgrant import (
    AuthorizationRequest,
    ClientCredentials,
    RefreshGrant,
    current_token,
    require_oauth,
)
from flask_refreshgrant.security import token_digest

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "")
REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"

START = 1_800_000_000


class FakeClock:
    """An injected clock: tests move time instead of sleeping."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def require_postgres() -> str:
    if POSTGRES_URL:
        return POSTGRES_URL
    if REQUIRE_POSTGRES:
        pytest.fail("REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set")
    pytest.skip("PostgreSQL not configured: set TEST_DATABASE_URL (see .ci/run)")


def reset_postgres(url: str) -> None:
    """Drop every table of the test database (a fresh schema per test)."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    except sa.exc.OperationalError as error:
        if REQUIRE_POSTGRES:
            raise
        pytest.skip(f"PostgreSQL at TEST_DATABASE_URL is unreachable: {error}")
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to an empty database, once for SQLite and once for PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    url = require_postgres()
    reset_postgres(url)
    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@dataclass
class Harness:
    """An app wired with the extension, and helpers to drive its endpoints."""

    app: Flask
    db: SQLAlchemy
    oauth: RefreshGrant
    user_model: Any
    client: FlaskClient
    clock: FakeClock

    def create_user(self, username: str = "alice", password: str = "wonderland") -> Any:
        with self.app.app_context():
            user = self.user_model(username=username, password=password)
            self.db.session.add(user)
            self.db.session.commit()
            return user.id

    def delete_user(self, user_id: int) -> None:
        with self.app.app_context():
            self.db.session.delete(self.db.session.get(self.user_model, user_id))
            self.db.session.commit()

    def create_client(
        self,
        grant_types: tuple[str, ...] = ("password", "refresh_token"),
        scope: str = "PRODUCTION SANDBOX",
        **kwargs: Any,
    ) -> ClientCredentials:
        with self.app.app_context():
            return self.oauth.create_client(
                name="test", grant_types=grant_types, scope=scope, **kwargs
            )

    def create_client_unchecked(
        self, grant_types: tuple[str, ...], scope: str, public: bool = False
    ) -> ClientCredentials:
        """Store a client that registration would refuse today (one stored by
        older code, or before the configuration changed)."""
        with self.app.app_context():
            return RefreshGrant.state().admin.create_client(
                name="unchecked",
                grant_types=list(grant_types),
                scope=scope,
                redirect_uris=[],
                public=public,
                now=int(self.clock.now),
                settings={},
            )

    def token(
        self,
        data: dict[str, str],
        client: ClientCredentials | None = None,
        *,
        basic: bool = True,
        **kwargs: Any,
    ) -> TestResponse:
        """POST a form to the token endpoint, authenticating ``client``."""
        headers = dict(kwargs.pop("headers", {}))
        form = dict(data)
        if client is not None:
            if client.client_secret is None:
                form["client_id"] = client.client_id
            elif basic:
                headers["Authorization"] = basic_auth(
                    client.client_id, client.client_secret
                )
            else:
                form["client_id"] = client.client_id
                form["client_secret"] = client.client_secret
        return self.client.post("/oauth2/token", data=form, headers=headers, **kwargs)

    def password_grant(
        self, client: ClientCredentials, scope: str | None = "PRODUCTION SANDBOX"
    ) -> TestResponse:
        data = {"grant_type": "password", "username": "alice", "password": "wonderland"}
        if scope is not None:
            data["scope"] = scope
        return self.token(data, client)

    def refresh(
        self, client: ClientCredentials, refresh_token: str, scope: str | None = None
    ) -> TestResponse:
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if scope is not None:
            data["scope"] = scope
        return self.token(data, client)


def basic_auth(client_id: str, secret: str | None) -> str:
    secret = secret or ""
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def build_app(
    database_url: str, clock: FakeClock, config: dict[str, Any] | None = None
) -> tuple[Flask, SQLAlchemy, RefreshGrant, Any]:
    """A minimal app with its own ``db``, a user table and the extension."""
    db = SQLAlchemy()

    class User(db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "app_user"
        id: Mapped[int] = mapped_column(primary_key=True)
        username: Mapped[str] = mapped_column(sa.String(80), unique=True)
        password: Mapped[str] = mapped_column(sa.String(80))

    def authenticate_user(username: str, password: str) -> Any:
        user = db.session.scalars(sa.select(User).filter_by(username=username)).first()
        return user if user is not None and user.password == password else None

    def load_user(user_id: str) -> Any:
        return db.session.get(User, int(user_id))

    def authorize(authorization: AuthorizationRequest) -> Any:
        """Login and consent, reduced to form fields for the tests."""
        if request.method == "GET":
            return {
                "client_id": authorization.client_id,
                "client_name": authorization.client_name,
                "scopes": authorization.scopes,
                "state": authorization.state,
                "redirect_uri": authorization.redirect_uri,
            }
        if request.form.get("decision") == "approve":
            return authorization.approve(load_user(request.form["user_id"]))
        return authorization.deny()

    app = Flask(__name__)
    app.config.update(
        TESTING=True,
        SECRET_KEY="test-secret",
        SQLALCHEMY_DATABASE_URI=database_url,
        SQLALCHEMY_ENGINE_OPTIONS={"poolclass": sa.pool.NullPool},
    )
    app.config.update(config or {})
    db.init_app(app)
    oauth = RefreshGrant()
    oauth.init_app(
        app,
        db=db,
        authenticate_user=authenticate_user,
        load_user=load_user,
        authorize=authorize,
        clock=clock,
    )

    @app.get("/api/ping")
    @require_oauth("PRODUCTION")
    def ping() -> dict[str, Any]:
        token: Any = current_token
        return {"user_id": token.user_id, "scope": token.scope}

    with app.app_context():
        db.create_all()
    return app, db, oauth, User


@pytest.fixture
def make_harness(
    database_url: str, clock: FakeClock
) -> Iterator[Callable[..., Harness]]:
    """Build a :class:`Harness` with the given ``app.config`` overrides."""
    built: list[Harness] = []

    def make(**config: Any) -> Harness:
        app, db, oauth, user_model = build_app(database_url, clock, config)
        harness = Harness(app, db, oauth, user_model, app.test_client(), clock)
        built.append(harness)
        return harness

    yield make
    for harness in built:
        with harness.app.app_context():
            harness.db.engine.dispose()


@pytest.fixture
def harness(make_harness: Callable[..., Harness]) -> Harness:
    """The default: every setting at its default value, user alice exists."""
    h = make_harness()
    h.create_user()
    return h


#: The one error body for every unusable refresh token (no oracle).
INVALID_REFRESH = {
    "error": "invalid_grant",
    "error_description": "The refresh token is invalid, expired or revoked.",
}


def refresh_row(h: Harness, refresh_token: str) -> dict[str, object]:
    with h.app.app_context():
        model = RefreshGrant.state().models.refresh_token
        row = h.db.session.scalars(
            sa.select(model).where(model.digest == token_digest(refresh_token))
        ).one()
        return {c.name: getattr(row, c.key) for c in model.__table__.columns}


def all_stored_text(h: Harness) -> str:
    """Every value of every row of every table, as one string."""
    with h.app.app_context():
        chunks: list[str] = []
        for table in h.db.metadata.sorted_tables:
            for row in h.db.session.execute(sa.select(table)):
                chunks.extend(str(value) for value in row)
        return "\n".join(chunks)


@contextmanager
def listen_to(signal: Signal) -> Iterator[list[dict[str, Any]]]:
    """Collect the keyword arguments of every send of ``signal``."""
    calls: list[dict[str, Any]] = []

    def receiver(sender: object, **kwargs: Any) -> None:
        calls.append(kwargs)

    signal.connect(receiver)
    try:
        yield calls
    finally:
        signal.disconnect(receiver)


def metric_samples(exposition: str) -> dict[str, float]:
    """The samples of a Prometheus text exposition of ``oauth2_*`` metrics,
    keyed ``name{label="value",…}`` (labels sorted), without the ``_created``
    timestamps."""
    from prometheus_client.parser import text_string_to_metric_families

    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if not sample.name.startswith("oauth2_") or sample.name.endswith(
                "_created"
            ):
                continue
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = (
                sample.value
            )
    return samples
