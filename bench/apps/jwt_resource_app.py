"""A resource server that verifies JWT access tokens by signature alone.

``gunicorn --pythonpath bench 'apps.jwt_resource_app:create_app()'`` with
``BENCH_ISSUER`` (the example app's URL, serving RFC 9068 JWT access tokens)
and ``BENCH_RESOURCE`` (this API's resource identifier, the tokens'
audience) serves ``GET /api/resource`` guarded by
:class:`flask_refreshgrant.resource_server.ProtectedResource`, as
``docs/resource-servers.md`` shows it: the token's signature checked against
the issuer's JWKS (fetched once per worker, then cached), its claims
checked, no database. It answers what the floor's and ``@require_oauth``'s
resource routes answer: the token's client, user and scope.
"""

from __future__ import annotations

import os

from core.common import RESOURCE_PATH
from flask import Flask, jsonify
from flask.typing import ResponseReturnValue

from flask_refreshgrant.resource_server import ProtectedResource, current_claims


def create_app() -> Flask:
    app = Flask(__name__)
    protected = ProtectedResource(
        app,
        resource=os.environ["BENCH_RESOURCE"],
        authorization_servers=[os.environ["BENCH_ISSUER"]],
    )

    @app.get(RESOURCE_PATH)
    @protected.require()
    def resource() -> ResponseReturnValue:
        claims = current_claims()
        return jsonify(
            client_id=claims["client_id"],
            user_id=claims["sub"],
            scope=claims.get("scope"),
        )

    return app
