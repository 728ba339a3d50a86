"""Shared fixtures: a database over SQLite and PostgreSQL, a fake clock, an app.

PostgreSQL comes from ``TEST_DATABASE_URL`` (``.ci/run`` starts one). Without
it the PostgreSQL half of the suite is skipped, unless ``REQUIRE_POSTGRES=1``,
which turns the skip into a failure.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import sqlalchemy as sa
from blinker import Signal
from click.testing import Result
from flask import Flask, request
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy
from joserfc import jws
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.datastructures import Headers
from werkzeug.test import TestResponse

from example_app import create_app
from example_app.models import db as example_db
from flask_refreshgrant import (
    AuthorizationRequest,
    ClientCredentials,
    RefreshGrant,
    current_token,
    require_oauth,
)
from flask_refreshgrant.security import token_digest

from .interop_node import NodeInterop, install_node

#: The fixtures an app's own tests use (SPEC §7.4); test_example_app.py does.
pytest_plugins = ["flask_refreshgrant.testing"]

#: An app of its own, run by test_testing_plugin.py from a copy outside this tree.
collect_ignore = ["plugin_app"]

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
        # Pairs, not a dict: a test may repeat a header.
        headers = Headers(kwargs.pop("headers", {}))
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
    database_url: str,
    clock: FakeClock,
    config: dict[str, Any] | None = None,
    **init_kwargs: Any,
) -> tuple[Flask, SQLAlchemy, RefreshGrant, Any]:
    """A minimal app with its own ``db``, a user table and the extension;
    ``init_kwargs`` are passed to ``init_app``, and ``authorize_view(
    authorization, load_user)`` replaces the simple authorize view."""
    authorize_view = init_kwargs.pop("authorize_view", None)
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
        if authorize_view is not None:
            return authorize_view(authorization, load_user)
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
        **init_kwargs,
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
        """``app.config`` overrides; keys in lower case go to ``build_app``."""
        init_kwargs = {k: config.pop(k) for k in list(config) if k.islower()}
        app, db, oauth, user_model = build_app(
            database_url, clock, config, **init_kwargs
        )
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


def oauth2_cli(h: Harness, *args: str) -> Result:
    """Run ``flask oauth2 ARGS…`` on the harness's app (stdout and stderr
    kept apart: ``result.stdout``, ``result.stderr``)."""
    return h.app.test_cli_runner().invoke(args=["oauth2", *args])


def oauth2_json(h: Harness, *args: str) -> Any:
    """``flask oauth2 ARGS… --json``: the one JSON document it printed."""
    result = oauth2_cli(h, *args, "--json")
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stderr == ""
    return json.loads(result.stdout)


# -- Node interop (tests/interop/) ---------------------------------------------


@pytest.fixture(scope="session")
def node() -> NodeInterop:
    """The Node interop scripts; ``npm ci`` runs once per session if needed
    (skips without Node and npm, fails instead under ``REQUIRE_INTEROP=1``)."""
    return install_node()


# -- the example app -----------------------------------------------------------


@pytest.fixture
def example_instance(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The example app's environment: this test's database and instance folder."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("EXAMPLE_INSTANCE_PATH", str(tmp_path / "instance"))
    for name in ("FLASK_EXAMPLE_BASE_URL", "EXAMPLE_BASE_URL", "FLASK_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "instance"


@pytest.fixture
def make_example_app(example_instance: Path) -> Iterator[Callable[..., Flask]]:
    """``example_app.create_app(config)``; its connections closed afterwards."""
    apps: list[Flask] = []

    def make(**config: Any) -> Flask:
        apps.append(create_app(config))
        return apps[-1]

    yield make
    for app in apps:
        with app.app_context():
            example_db.engine.dispose()


# -- DPoP (RFC 9449) -----------------------------------------------------------

#: The URLs the test client's requests have, as a proof's ``htu`` names them.
TOKEN_URL = "http://localhost/oauth2/token"
PING_URL = "http://localhost/api/ping"


def new_key(alg: str) -> Key:
    """A fresh private key for ``alg``."""
    key: Key
    if alg.startswith(("RS", "PS")):
        key = RSAKey.generate_key(2048)
    elif alg in ("EdDSA", "Ed25519"):
        key = OKPKey.generate_key("Ed25519")
    else:
        key = ECKey.generate_key({"ES256": "P-256", "ES384": "P-384"}[alg])
    return key


class DPoPKey:
    """A client's DPoP key pair, making proofs (RFC 9449 §4.2) with joserfc;
    every claim and header member can be overridden or dropped, to make the
    malformed proofs the tests need."""

    def __init__(
        self,
        alg: str = "ES256",
        clock: Callable[[], float] | None = None,
        key: Key | None = None,
    ) -> None:
        self.alg = alg
        self.clock = clock
        self.key: Key = key if key is not None else new_key(alg)

    @property
    def jkt(self) -> str:
        """The key's JWK SHA-256 thumbprint (RFC 7638)."""
        return self.key.thumbprint()

    @property
    def public_jwk(self) -> dict[str, Any]:
        return dict(self.key.as_dict(private=False))

    def proof(
        self,
        htu: str = TOKEN_URL,
        htm: str = "POST",
        *,
        access_token: str | None = None,
        nonce: str | None = None,
        header: dict[str, Any] | None = None,
        claims: dict[str, Any] | None = None,
        drop: tuple[str, ...] = (),
        sign_with: Key | None = None,
    ) -> str:
        """A proof for a request to ``htu`` with ``htm``, issued now."""
        now = self.clock() if self.clock is not None else 0
        protected: dict[str, Any] = {
            "typ": "dpop+jwt",
            "alg": self.alg,
            "jwk": self.public_jwk,
        }
        payload: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "htm": htm,
            "htu": htu,
            "iat": int(now),
        }
        if access_token is not None:
            digest = hashlib.sha256(access_token.encode()).digest()
            payload["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if nonce is not None:
            payload["nonce"] = nonce
        protected.update(header or {})
        payload.update(claims or {})
        for name in drop:
            protected.pop(name, None)
            payload.pop(name, None)
        with warnings.catch_warnings():
            # joserfc warns that RFC 9864 deprecates "EdDSA" (RFC 9449 uses it).
            warnings.simplefilter("ignore", SecurityWarning)
            return jws.serialize_compact(
                protected,
                json.dumps(payload),
                sign_with or self.key,
                algorithms=[str(protected.get("alg", self.alg))],
            )

    def headers(
        self, htu: str = TOKEN_URL, htm: str = "POST", **kwargs: Any
    ) -> dict[str, str]:
        """``{"DPoP": proof}`` for a request."""
        return {"DPoP": self.proof(htu, htm, **kwargs)}


def dpop_key(h: Harness, alg: str = "ES256") -> DPoPKey:
    """A key whose proofs are issued at the harness's clock."""
    return DPoPKey(alg=alg, clock=h.clock)


#: The redirect URI of the code clients of the DPoP tests.
DPOP_REDIRECT = "https://client.example.com/cb"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize(
    h: Harness, client: ClientCredentials, **params: str
) -> tuple[TestResponse, str]:
    """Approve an authorization request (PKCE S256, scope PRODUCTION) as user
    1; the response and the code verifier."""
    verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": DPOP_REDIRECT,
        "scope": "PRODUCTION",
        "state": "xyz",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **params,
    }
    url = "/oauth2/authorize?" + urlencode(query)
    response = h.client.post(url, data={"decision": "approve", "user_id": "1"})
    return response, verifier


def redirect_query(response: TestResponse) -> dict[str, str]:
    assert response.status_code == 302, response.get_data(as_text=True)
    location = urlsplit(response.headers["Location"])
    return {k: v[0] for k, v in parse_qs(location.query).items()}


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


def assert_burst_bounded(checked: list[str], right: str, *, max_failures: int) -> None:
    """The password lock under a burst (SPEC §6.1, §13): without a success,
    at most ``max_failures`` passwords are checked. A success resets the
    count (§6.1), so when the right password was checked, at most
    ``max_failures - 1`` wrong ones were counted before it and at most
    ``max_failures`` after it."""
    if right not in checked:
        assert len(checked) <= max_failures, checked
    else:
        wrong = [password for password in checked if password != right]
        assert len(wrong) <= 2 * max_failures - 1, checked
