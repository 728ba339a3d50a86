"""A refresh-token server written the way Authlib's documentation tells a user to.

``gunicorn --pythonpath bench 'apps.authlib_recipe_app:create_app()'``, configured
by the environment: ``DATABASE_URL``; ``BENCH_ROTATE`` (default ``true``);
``BENCH_ENGINE_OPTIONS`` (JSON, see ``core/common.py``).

Following Authlib's Flask OAuth 2.0 server documentation and its
``example-oauth2-server``:

* models from ``authlib.integrations.sqla_oauth2`` mixins
  (``OAuth2ClientMixin``: client secret kept as is, metadata as JSON;
  ``OAuth2TokenMixin``: one row holds an access token and its refresh token,
  both in clear, looked up by value);
* ``authlib.integrations.flask_oauth2.AuthorizationServer`` with
  ``create_query_client_func`` and ``create_save_token_func``;
* ``OAUTH2_REFRESH_TOKEN_GENERATOR = True``;
* a ``RefreshTokenGrant`` subclass with the documented
  ``authenticate_refresh_token`` / ``authenticate_user`` /
  ``revoke_old_credential``, and ``INCLUDE_NEW_REFRESH_TOKEN = True``.

Two deviations, both neutral for speed: ``User.query.get`` (a
``LegacyAPIWarning`` in SQLAlchemy 2) is ``db.session.get``; the documented
``credential.revoked = True`` (not a column of ``OAuth2TokenMixin``, so it
would never be stored) sets the mixin's ``refresh_token_revoked_at``.

The protected route (``GET /api/resource``) is the documented resource
server: ``flask_oauth2.ResourceProtector`` with the validator of
``sqla_oauth2.create_bearer_token_validator``.

Rotation off (``BENCH_ROTATE=false``): ``INCLUDE_NEW_REFRESH_TOKEN = False``
and ``revoke_old_credential`` does nothing — Authlib calls it after every
refresh, and revoking the presented token would end the grant.
"""

from __future__ import annotations

import time
from typing import Any

from authlib.integrations.flask_oauth2 import (
    AuthorizationServer,
    ResourceProtector,
    current_token,
)
from authlib.integrations.sqla_oauth2 import (
    OAuth2ClientMixin,
    OAuth2TokenMixin,
    create_bearer_token_validator,
    create_query_client_func,
    create_save_token_func,
)
from authlib.oauth2.rfc6749 import grants
from core.common import (
    REFRESH_TOKEN_LIFETIME,
    RESOURCE_PATH,
    database_url_from_env,
    env_engine_options,
    env_flag,
    use_sqlite_pragmas,
)
from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Column, ForeignKey, Integer, String
from sqlalchemy.orm import relationship

db = SQLAlchemy()


class User(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "recipe_user"

    id = Column(Integer, primary_key=True)
    username = Column(String(40), unique=True)

    def get_user_id(self) -> int:
        return int(self.id)


class OAuth2Client(db.Model, OAuth2ClientMixin):  # type: ignore[name-defined,misc]
    __tablename__ = "oauth2_client"

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("recipe_user.id", ondelete="CASCADE"))
    user = relationship("User")


class OAuth2Token(db.Model, OAuth2TokenMixin):  # type: ignore[name-defined,misc]
    __tablename__ = "oauth2_token"

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("recipe_user.id", ondelete="CASCADE"))
    user = relationship("User")

    def is_refresh_token_valid(self) -> bool:
        if self.is_revoked():
            return False
        return bool(self.issued_at + REFRESH_TOKEN_LIFETIME >= time.time())


class RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> OAuth2Token | None:
        token = OAuth2Token.query.filter_by(refresh_token=refresh_token).first()
        if token and token.is_refresh_token_valid():
            return token  # type: ignore[no-any-return]
        return None

    def authenticate_user(self, credential: OAuth2Token) -> User | None:
        return db.session.get(User, credential.user_id)

    def revoke_old_credential(self, credential: OAuth2Token) -> None:
        credential.refresh_token_revoked_at = int(time.time())
        db.session.add(credential)
        db.session.commit()


class NonRotatingRefreshTokenGrant(RefreshTokenGrant):
    INCLUDE_NEW_REFRESH_TOKEN = False

    def revoke_old_credential(self, credential: OAuth2Token) -> None:
        pass


def create_app() -> Flask:
    app = Flask(__name__)
    url = database_url_from_env()
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = env_engine_options(url)
    app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = True
    db.init_app(app)

    server = AuthorizationServer()
    server.init_app(
        app,
        query_client=create_query_client_func(db.session, OAuth2Client),
        save_token=create_save_token_func(db.session, OAuth2Token),
    )
    rotate = env_flag("BENCH_ROTATE", True)
    server.register_grant(RefreshTokenGrant if rotate else NonRotatingRefreshTokenGrant)

    @app.route("/oauth2/token", methods=["POST"])
    def issue_token() -> ResponseReturnValue:
        response: Any = server.create_token_response()
        return response  # type: ignore[no-any-return]

    require_oauth = ResourceProtector()
    require_oauth.register_token_validator(
        create_bearer_token_validator(db.session, OAuth2Token)()
    )

    @app.get(RESOURCE_PATH)
    @require_oauth()
    def resource() -> ResponseReturnValue:
        token: Any = current_token
        return jsonify(
            client_id=token.client_id, user_id=token.user_id, scope=token.scope
        )

    with app.app_context():
        use_sqlite_pragmas(db.engine)
        db.create_all()
    return app
