"""JSON error responses shared by the blueprint and the resource protector."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from authlib.consts import default_json_headers
from flask import Response, current_app, json
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

#: Seconds a client is told to wait when the database cannot be reached.
RETRY_AFTER_SECONDS = 5

#: What a database that is down, unreachable or locked raises.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError)


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


def database_unavailable(error: Exception, rollback: Callable[[], None]) -> Response:
    """``503 temporarily_unavailable``: every write is one transaction, rolled
    back on error (``rollback`` ends the one the error left open), so nothing
    was half-written and the client may retry."""
    current_app.logger.warning("OAuth 2.0: database unavailable: %s", error)
    with contextlib.suppress(Exception):
        rollback()
    return json_error(
        503,
        "temporarily_unavailable",
        "The server is temporarily unable to handle the request.",
        **{"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
