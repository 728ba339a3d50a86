"""Per-app state, kept in ``app.extensions["refreshgrant"]``."""

from __future__ import annotations

import dataclasses

from flask import Flask, current_app

from ..config import Settings
from ..endpoints.authorization_request import AuthorizeView
from ..errors import ExtensionError
from ..metrics import Metrics
from ..models import Models
from ..store.admin import AdminStore
from ..store.registration import RegistrationStore
from ..store.tokens import TokenStore
from .authorization_server import AuthorizationServer

#: The key under ``app.extensions``.
EXTENSION_KEY = "refreshgrant"


@dataclasses.dataclass(frozen=True)
class RefreshGrantState:
    """Everything the extension knows about one app, built once at ``init_app``."""

    settings: Settings
    models: Models
    #: Per-request reads and writes of tokens and codes.
    store: TokenStore
    #: Operators' reads and writes: clients, revocation by client or user, purge.
    admin: AdminStore
    server: AuthorizationServer
    #: Dynamic client registration (RFC 7591): initial access tokens, the
    #: rate limit, dynamic clients.
    registration: RegistrationStore
    #: The app's login-and-consent view, or ``None``: no authorization endpoint.
    authorize: AuthorizeView | None = None
    #: Prometheus metrics, or ``None``: ``OAUTH2_METRICS_PATH`` is not set.
    metrics: Metrics | None = None


def state(app: Flask | None = None) -> RefreshGrantState:
    """The state of ``app`` (default: the current app)."""
    target = current_app if app is None else app
    try:
        found = target.extensions[EXTENSION_KEY]
    except KeyError:
        raise ExtensionError(
            "flask-refreshgrant is not registered on this app. "
            "Call 'RefreshGrant().init_app(app, db=db, ...)' first."
        ) from None
    assert isinstance(found, RefreshGrantState)
    return found
