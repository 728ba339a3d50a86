"""Users who need extra columns build their own models from the mixins."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import Mapped, mapped_column, reconstructor, relationship

from flask_refreshgrant import (
    AccessTokenMixin,
    AuthorizationCodeMixin,
    ClientMixin,
    DPoPProofMixin,
    Models,
    PasswordLockoutMixin,
    RefreshGrant,
    RefreshTokenMixin,
    current_token,
    require_oauth,
)

from .conftest import FakeClock, basic_auth


@pytest.mark.parametrize("renew", [True, False], ids=["renewal-on", "renewal-off"])
def test_models_built_from_the_mixins_with_extra_columns(
    database_url: str, renew: bool, request: pytest.FixtureRequest
) -> None:
    db = SQLAlchemy()

    class Tenant(ClientMixin, db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "tenant_client"
        tenant: Mapped[str] = mapped_column(sa.String(40), default="acme")

    class RefreshToken(RefreshTokenMixin, db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "tenant_refresh_token"
        region: Mapped[str] = mapped_column(sa.String(20), default="eu")

    class AccessToken(AccessTokenMixin, db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "tenant_access_token"
        region: Mapped[str] = mapped_column(sa.String(20), default="eu")

    class Code(AuthorizationCodeMixin, db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "tenant_authorization_code"

    class Proof(DPoPProofMixin, db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "tenant_dpop_proof"

    class User:
        id = 7

    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    db.init_app(app)

    def dispose() -> None:
        with app.app_context():
            db.engine.dispose()

    request.addfinalizer(dispose)

    def authenticate_user(username: str, password: str) -> Any:
        return User() if (username, password) == ("u", "p") else None

    oauth = RefreshGrant()
    oauth.init_app(
        app,
        db=db,
        models=Models(
            client=Tenant,
            refresh_token=RefreshToken,
            access_token=AccessToken,
            authorization_code=Code,
            dpop_proof=Proof,
        ),
        authenticate_user=authenticate_user,
        load_user=lambda user_id: User() if user_id == "7" else None,
        clock=FakeClock(),
    )
    with app.app_context():
        db.create_all()
        created = oauth.create_client(
            name="t",
            grant_types=["password", "refresh_token"],
            scope="A",
            renew_refresh_token=renew,
        )
        # Models built with the first four only (code written before the
        # password lock) get the default lock table on the same db.
        assert {t.name for t in db.metadata.sorted_tables} == {
            "tenant_client",
            "tenant_refresh_token",
            "tenant_access_token",
            "tenant_authorization_code",
            "oauth2_password_lockout",
            "oauth2_registration_token",
            "oauth2_registration_limit",
            "tenant_dpop_proof",
        }
    auth = {"Authorization": basic_auth(created.client_id, created.client_secret)}
    http = app.test_client()
    first = http.post(
        "/oauth2/token",
        data={"grant_type": "password", "username": "u", "password": "p"},
        headers=auth,
    )
    assert first.status_code == 200, first.json
    assert first.json is not None
    second = http.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first.json["refresh_token"],
        },
        headers=auth,
    )
    assert second.status_code == 200
    with app.app_context():
        assert db.session.scalars(sa.select(Tenant.tenant)).one() == "acme"
        # Python-side column defaults apply to rows the extension inserts,
        # whichever way it inserts them (rotation is one statement on
        # PostgreSQL; without renewal the access token is a conditional
        # INSERT ... SELECT where the models allow).
        rows = db.session.execute(
            sa.select(RefreshToken.user_id, RefreshToken.region)
        ).all()
        assert [tuple(row) for row in rows] == [("7", "eu")] * (2 if renew else 1)
        regions = db.session.scalars(sa.select(AccessToken.region)).all()
        assert regions == ["eu", "eu"]


def test_custom_password_lockout_model(
    database_url: str, request: pytest.FixtureRequest
) -> None:
    """A fifth model built from ``PasswordLockoutMixin`` holds the password
    lock (SPEC §6.1) in the user's own table."""
    db = SQLAlchemy()

    class Client(ClientMixin, db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "my_client"

    class RefreshToken(RefreshTokenMixin, db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "my_refresh_token"

    class AccessToken(AccessTokenMixin, db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "my_access_token"

    class Code(AuthorizationCodeMixin, db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "my_authorization_code"

    class Lockout(PasswordLockoutMixin, db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "my_password_lockout"

    class User:
        id = 1

    app = Flask(__name__)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=database_url, OAUTH2_PASSWORD_MAX_FAILURES=2
    )
    db.init_app(app)
    request.addfinalizer(lambda: _dispose(app, db))
    oauth = RefreshGrant()
    oauth.init_app(
        app,
        db=db,
        models=Models(Client, RefreshToken, AccessToken, Code, Lockout),
        authenticate_user=lambda u, p: User() if (u, p) == ("u", "p") else None,
        load_user=lambda user_id: User(),
        clock=FakeClock(),
    )
    with app.app_context():
        db.create_all()
        assert {t.name for t in db.metadata.sorted_tables} == {
            "my_client",
            "my_refresh_token",
            "my_access_token",
            "my_authorization_code",
            "my_password_lockout",
            "oauth2_dpop_proof",
            "oauth2_registration_token",
            "oauth2_registration_limit",
        }
        created = oauth.create_client(name="t", grant_types=["password"])
    auth = {"Authorization": basic_auth(created.client_id, created.client_secret)}
    http = app.test_client()

    def password(secret: str) -> int:
        form = {"grant_type": "password", "username": "u", "password": secret}
        return http.post("/oauth2/token", data=form, headers=auth).status_code

    assert [password("x"), password("x"), password("p")] == [400, 400, 400]
    with app.app_context():
        assert db.session.scalars(sa.select(Lockout.locked_until)).one() is not None


def _dispose(app: Flask, db: SQLAlchemy) -> None:
    with app.app_context():
        db.engine.dispose()


def test_models_without_a_dpop_proof_model_get_the_default_table(
    database_url: str, request: pytest.FixtureRequest
) -> None:
    """``Models`` from before DPoP (four models) still work: ``init_app``
    adds the default ``oauth2_dpop_proof`` table to the same ``db``."""
    db = SQLAlchemy()

    class Client(ClientMixin, db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "own_client"

    class RefreshToken(RefreshTokenMixin, db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "own_refresh_token"

    class AccessToken(AccessTokenMixin, db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "own_access_token"

    class Code(AuthorizationCodeMixin, db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "own_authorization_code"

    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    db.init_app(app)

    def dispose() -> None:
        with app.app_context():
            db.engine.dispose()

    request.addfinalizer(dispose)
    RefreshGrant().init_app(
        app,
        db=db,
        models=Models(Client, RefreshToken, AccessToken, Code),
        load_user=lambda user_id: None,
    )
    models = RefreshGrant.state(app).models
    assert models.dpop_proof is not None
    assert models.dpop_proof.__tablename__ == "oauth2_dpop_proof"  # type: ignore[attr-defined]
    with app.app_context():
        db.create_all()
        tables = set(sa.inspect(db.engine).get_table_names())
    assert "oauth2_dpop_proof" in tables


def test_models_with_load_listeners_and_relationships(
    database_url: str, request: pytest.FixtureRequest
) -> None:
    """The hot path reads rows with Core and adopts them into the session
    (``store/loading.py``); a model with a load listener is read by the ORM
    instead, and an adopted instance's relationships load like the ORM's."""
    db = SQLAlchemy()
    reconstructed: list[int] = []

    class Client(ClientMixin, db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "rel_client"

    class RefreshToken(RefreshTokenMixin, db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "rel_refresh_token"

        @reconstructor
        def _loaded(self) -> None:
            reconstructed.append(self.id)

    class AccessToken(AccessTokenMixin, db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "rel_access_token"
        client: Mapped[Client] = relationship(
            primaryjoin=lambda: (
                sa.orm.foreign(AccessToken.client_id) == Client.client_id
            ),
            viewonly=True,
        )

    class Code(AuthorizationCodeMixin, db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "rel_authorization_code"

    class User:
        id = 1

    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    db.init_app(app)
    request.addfinalizer(lambda: _dispose(app, db))
    oauth = RefreshGrant()
    oauth.init_app(
        app,
        db=db,
        models=Models(Client, RefreshToken, AccessToken, Code),
        authenticate_user=lambda u, p: User() if (u, p) == ("u", "p") else None,
        load_user=lambda user_id: User(),
        clock=FakeClock(),
    )

    @app.get("/api/client-name")
    @require_oauth()
    def client_name() -> dict[str, str]:
        return {"name": current_token.client.client_name}

    with app.app_context():
        db.create_all()
        created = oauth.create_client(
            name="related", grant_types=["password", "refresh_token"]
        )
    auth = {"Authorization": basic_auth(created.client_id, created.client_secret)}
    http = app.test_client()
    form = {"grant_type": "password", "username": "u", "password": "p"}
    first = http.post("/oauth2/token", data=form, headers=auth).json
    assert first is not None
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    second = http.post("/oauth2/token", data=refresh, headers=auth)
    assert second.status_code == 200
    assert reconstructed  # the presented token was loaded by the ORM
    # Reuse of the rotated-out token still revokes the family.
    assert http.post("/oauth2/token", data=refresh, headers=auth).status_code == 400
    assert second.json is not None
    bearer = {"Authorization": "Bearer " + second.json["access_token"]}
    assert http.get("/api/client-name", headers=bearer).status_code == 401
    again = http.post("/oauth2/token", data=form, headers=auth).json
    assert again is not None
    bearer = {"Authorization": "Bearer " + again["access_token"]}
    named = http.get("/api/client-name", headers=bearer)
    assert named.status_code == 200 and named.json == {"name": "related"}
