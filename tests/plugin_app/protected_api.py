"""A small app outside the repository's own tests: one protected route."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_refreshgrant import RefreshGrant, current_token, require_oauth

db = SQLAlchemy()
oauth = RefreshGrant()


def create_app(database_uri: str) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=database_uri,
        OAUTH2_SCOPES_SUPPORTED=["X", "Y"],
    )
    db.init_app(app)
    oauth.init_app(app, db=db, load_user=lambda user_id: {"id": user_id})

    @app.get("/api/x")
    @require_oauth("X")
    def x() -> dict[str, Any]:
        token: Any = current_token
        return {"user": token.user_id, "scope": token.scope}

    with app.app_context():
        db.create_all()
    return app
