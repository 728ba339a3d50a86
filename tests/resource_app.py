"""A resource server that is not the authorization server: another Flask
app, run in its own process (``gunicorn 'tests.resource_app:create_app()'``)
with its own database, protecting its API with ``ProtectedResource``.

Configured from the environment: ``RS_RESOURCE`` (its identifier),
``RS_ISSUER``, ``RS_DATABASE_URL``, and optionally ``RS_CLIENT_ID`` /
``RS_CLIENT_SECRET`` (introspection) and ``RS_JWKS_URI``.
"""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import Mapped, mapped_column

from flask_refreshgrant.resource_server import ProtectedResource, current_claims


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["RS_DATABASE_URL"]
    db = SQLAlchemy(app)

    class Visit(db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "visit"
        id: Mapped[int] = mapped_column(primary_key=True)
        sub: Mapped[str] = mapped_column(sa.String(255))

    with app.app_context():
        db.create_all()

    protected = ProtectedResource(
        app,
        resource=os.environ["RS_RESOURCE"],
        authorization_servers=[os.environ["RS_ISSUER"]],
        scopes_supported=["PRODUCTION", "SANDBOX"],
        resource_name="Visits",
        client_id=os.environ.get("RS_CLIENT_ID"),
        client_secret=os.environ.get("RS_CLIENT_SECRET"),
        jwks_uri=os.environ.get("RS_JWKS_URI"),
    )

    @app.get("/api/visits")
    @protected.require()
    def visits() -> dict[str, Any]:
        claims = current_claims()
        db.session.add(Visit(sub=claims["sub"]))
        db.session.commit()
        count = db.session.scalar(sa.select(sa.func.count()).select_from(Visit))
        return {"sub": claims["sub"], "scope": claims.get("scope"), "visits": count}

    @app.get("/api/production")
    @protected.require("PRODUCTION")
    def production() -> dict[str, Any]:
        return {"ok": True}

    return app
