"""How the demo client calls the token endpoint, and the same calls as curl.

:func:`call_token_endpoint` posts the form to the app's own WSGI callable,
without a network round trip, so the request goes through the real endpoint
code (client authentication, grant, storage) exactly as one over HTTP would.
An HTTP call to ourselves would need the server's reachable address and would
deadlock under a single synchronous worker (``gunicorn`` with one sync
worker, or ``flask run --without-threads``): the worker would wait for a
response that only it could produce. The call runs in a thread of its own so
that it gets its own app context and database session, like a request served
by another worker.

:func:`refresh_curl` and :func:`api_curl` are the commands a user can paste
to make the same calls over HTTP.
"""

from __future__ import annotations

import base64
import shlex
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Flask, current_app, request
from werkzeug.test import Client

from flask_refreshgrant import RefreshGrant

from .demo import demo_credentials

#: The token endpoint answers within this many seconds, or the page says so.
TOKEN_CALL_TIMEOUT = 60.0


def base_url() -> str:
    """Where the browser reaches the app: ``EXAMPLE_BASE_URL`` if it is set,
    else the scheme, host and port of the current request."""
    configured = current_app.config.get("EXAMPLE_BASE_URL")
    if configured:
        return str(configured).rstrip("/")
    return request.url_root.rstrip("/")


def oauth_prefix() -> str:
    return RefreshGrant.state().settings.url_prefix


def token_url() -> str:
    return base_url() + oauth_prefix() + "/token"


def basic_authorization() -> str:
    """``Basic base64(client_id:client_secret)`` of the demo client."""
    creds = demo_credentials(current_app)
    pair = f"{creds['client_id']}:{creds['client_secret']}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


@dataclass(frozen=True)
class TokenCall:
    """The token endpoint's answer to the demo client."""

    status: int
    body: dict[str, Any]


def call_token_endpoint(form: dict[str, str]) -> TokenCall:
    """POST ``form`` to the token endpoint as the demo client (HTTP Basic).

    In-process through the app's WSGI callable, in a thread of its own (see
    the module docstring for why not over HTTP).
    """
    return _call_endpoint("/token", form)


def call_revocation_endpoint(form: dict[str, str]) -> TokenCall:
    """POST ``form`` to the revocation endpoint (RFC 7009) as the demo client."""
    return _call_endpoint("/revoke", form)


def call_userinfo(access_token: str, token_type: str) -> TokenCall:
    """GET the OpenID Connect userinfo endpoint with ``access_token``."""
    headers = {"Authorization": f"{token_type} {access_token}"}
    return _call_endpoint("/userinfo", None, headers)


def _call_endpoint(
    endpoint: str,
    form: dict[str, str] | None,
    headers: dict[str, str] | None = None,
) -> TokenCall:
    """POST ``form`` as the demo client, or GET when it is ``None``."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    if headers is None:
        headers = {"Authorization": basic_authorization()}
    path = oauth_prefix() + endpoint
    root = base_url()
    results: list[TokenCall] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            client = Client(app)
            if form is None:
                response = client.get(path, headers=headers, base_url=root)
            else:
                response = client.post(path, data=form, headers=headers, base_url=root)
            body = response.get_json(silent=True)
            if not isinstance(body, dict):
                body = {"error": "non-JSON answer", "body": response.text[:500]}
            results.append(TokenCall(response.status_code, body))
        except BaseException as error:  # re-raised in the caller's thread
            errors.append(error)

    thread = threading.Thread(target=run, name="demo-client-token-call")
    thread.start()
    thread.join(TOKEN_CALL_TIMEOUT)
    if errors:
        raise errors[0]
    if not results:
        return TokenCall(504, {"error": "the token endpoint did not answer in time"})
    return results[0]


def refresh_curl(refresh_token: str) -> str:
    """The refresh call, ready to paste (SPEC §8's shape, real values)."""
    data = urlencode({"grant_type": "refresh_token", "refresh_token": refresh_token})
    words = ["curl", "-s", "-H", "Authorization: " + basic_authorization()]
    words += ["-d", data, token_url()]
    return shlex.join(words)


def api_curl(access_token: str) -> str:
    header = "Authorization: Bearer " + access_token
    return shlex.join(["curl", "-s", "-H", header, base_url() + "/api/me"])
