"""The cookie session, except on the endpoints OAuth clients call.

The token, revocation and introspection endpoints authenticate the client
with its own credentials and never read the session; opening one there
would parse and verify a cookie (or, with a server-side session store, make
a round trip) on every refresh for nothing. On those paths
:meth:`~NoSessionOnClientEndpoints.open_session` returns ``None``, so Flask
gives the request its read-only null session and saves nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

#: The endpoints under ``OAUTH2_URL_PREFIX`` that clients call.
CLIENT_ENDPOINTS = ("/token", "/revoke", "/introspect")


class NoSessionOnClientEndpoints(SecureCookieSessionInterface):
    """Flask's cookie session everywhere but on ``paths``."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = frozenset(paths)

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path in self.paths:
            return None
        return super().open_session(app, request)


def client_endpoint_paths(url_prefix: str) -> list[str]:
    """The paths of :data:`CLIENT_ENDPOINTS` under ``url_prefix``."""
    prefix = url_prefix.rstrip("/")
    return [prefix + path for path in CLIENT_ENDPOINTS]
