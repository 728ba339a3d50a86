"""The extension's blueprint: the token endpoint, with errors that stay JSON.

Error handlers are scoped to this blueprint, so they never fight the app's own.
"""

from __future__ import annotations

import contextlib

from authlib.consts import default_json_headers
from flask import Blueprint, Response, current_app, json, request
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from .server import MAX_TOKEN_REQUEST_BYTES
from .state import state

#: Seconds a client is told to wait when the database cannot be reached.
RETRY_AFTER_SECONDS = 5

blueprint = Blueprint("refreshgrant", __name__)


def json_error(
    status: int, error: str, description: str | None = None, **headers: str
) -> Response:
    """An RFC 6749 §5.2 error body with the no-store headers."""
    body = {"error": error}
    if description:
        body["error_description"] = description
    response = Response(json.dumps(body), status=status, headers=default_json_headers)
    response.headers.update(headers)
    return response


@blueprint.route("/token", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def token() -> Response:
    """RFC 6749 §3.2 token endpoint (POST only)."""
    if request.method != "POST":
        return json_error(
            405,
            "invalid_request",
            "The token endpoint accepts POST only.",
            Allow="POST",
        )
    request.max_content_length = MAX_TOKEN_REQUEST_BYTES
    return state().server.create_token_response()


@blueprint.errorhandler(OperationalError)
@blueprint.errorhandler(InterfaceError)
@blueprint.errorhandler(PoolTimeoutError)
def database_unavailable(error: Exception) -> Response:
    """The database is down or busy: nothing was half-written (each write is
    one transaction, rolled back on error), so the client may simply retry."""
    current_app.logger.warning("OAuth 2.0 endpoint: database unavailable: %s", error)
    with contextlib.suppress(Exception):
        state().storage.session.rollback()
    return json_error(
        503,
        "temporarily_unavailable",
        "The server is temporarily unable to handle the request.",
        **{"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


@blueprint.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    """Werkzeug's HTML error pages become RFC 6749 JSON errors."""
    status = error.code or 400
    return json_error(status, "invalid_request" if status < 500 else "server_error")


@blueprint.errorhandler(Exception)
def unexpected_error(error: Exception) -> Response:
    """Never an HTML page or a stack trace to an OAuth client."""
    current_app.logger.exception("OAuth 2.0 endpoint failed")
    return json_error(500, "server_error")
