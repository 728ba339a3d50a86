"""``POST {prefix}/register``: dynamic client registration (RFC 7591), when
``OAUTH2_DYNAMIC_REGISTRATION`` is ``"open"`` or ``"token"``.

In this order, each refusal storing nothing: the initial access token
(mode ``"token"``; RFC 6750 errors), the rate limit per client address
(``429`` with ``Retry-After``; every attempt that got this far counts), the
JSON body (at most 8 KiB, 32 levels: SPEC §13) and its metadata, then one
transaction that uses the token once and stores the client.
"""

from __future__ import annotations

from typing import Any

from flask import Response, json, request

from ..bounded_json import JSONLimitError, loads
from ..endpoints.client_metadata import ClientMetadataError, check_client_metadata
from ..http_errors import json_error
from .state import RefreshGrantState

#: The ``WWW-Authenticate`` challenge of a missing or bad initial access token.
_CHALLENGE = 'Bearer error="invalid_token"'
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _bearer_token() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or " " in value:
        return None
    return value


def _invalid_token(description: str) -> Response:
    return json_error(
        401, "invalid_token", description, **{"WWW-Authenticate": _CHALLENGE}
    )


def register(app_state: RefreshGrantState) -> Response:
    """Answer one registration request (see the module's docstring)."""
    settings = app_state.settings
    if settings.dynamic_registration is None:
        return json_error(404, "invalid_request", "Dynamic registration is off.")
    if request.method != "POST":
        return json_error(
            405, "invalid_request", "This endpoint accepts POST only.", Allow="POST"
        )
    registration = app_state.registration
    now = app_state.server.now()
    initial_token = None
    if settings.dynamic_registration == "token":
        initial_token = _bearer_token()
        if initial_token is None:
            return json_error(
                401,
                "invalid_token",
                "An initial access token is required.",
                **{"WWW-Authenticate": "Bearer"},
            )
        if not registration.token_usable(initial_token, now=now):
            return _invalid_token("The initial access token is invalid or used up.")
    limit = settings.registration_rate_limit
    if limit:
        address = request.remote_addr or "unknown"
        wait = registration.count_attempt(address, now=now, limit=limit)
        if wait is not None:
            return json_error(
                429,
                "invalid_request",
                "Too many registrations from this address; try again later.",
                **{"Retry-After": str(wait)},
            )
    if request.mimetype != "application/json":
        return json_error(
            400, "invalid_client_metadata", "The body must be application/json."
        )
    try:
        # The blueprint has read the body whole (within OAUTH2_MAX_BODY_BYTES,
        # chunked too) before this runs; the stream is spent, the data kept.
        body = loads(request.get_data(cache=True))
        metadata = check_client_metadata(body, settings)
    except JSONLimitError as error:
        return json_error(400, "invalid_client_metadata", str(error))
    except ClientMetadataError as error:
        return json_error(400, error.error, error.description)
    stored = registration.register(
        values={
            "client_name": metadata.client_name,
            "redirect_uris": " ".join(metadata.redirect_uris),
            "grant_types": " ".join(metadata.grant_types),
            "scope": metadata.scope,
        },
        public=metadata.public,
        now=now,
        initial_token=initial_token,
    )
    if stored is None:
        return _invalid_token("The initial access token is invalid or used up.")
    client_id, secret = stored
    answer: dict[str, Any] = {
        "client_id": client_id,
        "client_id_issued_at": now,
        **metadata.as_json(),
    }
    if secret is not None:
        answer["client_secret"] = secret
        answer["client_secret_expires_at"] = 0
    return Response(
        json.dumps(answer),
        status=201,
        headers={"Content-Type": "application/json", **_NO_STORE},
    )
