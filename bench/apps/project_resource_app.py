"""The example app with one more route: ``@require_oauth`` and nothing else.

``gunicorn --pythonpath bench 'apps.project_resource_app:create_app()'`` (with
the example app's environment) serves ``example_app:create_app()`` as
shipped plus ``GET /api/resource``, guarded by the project's
``require_oauth`` and answering the token's client, user and scope — what
the floor's resource route answers. The example app's own ``/api/me`` also
loads the user (a second ``SELECT``); the resource section measures both.
"""

from __future__ import annotations

from typing import Any

from core.common import RESOURCE_PATH
from flask import Flask, jsonify
from flask.typing import ResponseReturnValue

from example_app import create_app as create_example_app
from flask_refreshgrant import current_token, require_oauth


def create_app() -> Flask:
    app = create_example_app()

    @app.get(RESOURCE_PATH)
    @require_oauth()
    def resource() -> ResponseReturnValue:
        token: Any = current_token
        return jsonify(
            client_id=token.client_id, user_id=token.user_id, scope=token.scope
        )

    return app
