"""The issuer identifier: ``OAUTH2_ISSUER``, or the request's own root.

Metadata (RFC 8414) announces it as ``issuer`` and every authorization
response carries it as ``iss`` (RFC 9207, the mix-up defence of RFC 9700
§4.4): one function computes both, so they always agree.
"""

from __future__ import annotations

import threading
import weakref

from flask import Flask, current_app, request

from .config import Settings

#: The apps already warned that their issuer follows the Host header.
_warned: weakref.WeakSet[Flask] = weakref.WeakSet()
_warned_lock = threading.Lock()


def issuer_url(settings: Settings) -> str:
    """``OAUTH2_ISSUER``, else the scheme and host the request came to (and,
    the first time, a warning that it does)."""
    if settings.issuer is not None:
        return settings.issuer
    warn_once(current_app._get_current_object())  # type: ignore[attr-defined]
    return request.url_root.rstrip("/")


def warn_once(app: Flask) -> None:
    """Outside debug and testing, say once per app, when a request first
    takes its issuer from the ``Host`` header, that ``OAUTH2_ISSUER`` is
    unset. Where it matters (a server answering requests), not on every
    ``flask …`` command that creates the app."""
    if app in _warned or app.debug or app.testing:
        return
    with _warned_lock:
        if app in _warned:
            return
        _warned.add(app)
        app.logger.warning(
            "flask-refreshgrant: OAUTH2_ISSUER is not set, so the issuer in "
            "metadata and in authorization responses follows each request's "
            "Host header (a cache-poisoning risk, RFC 8414 section 3.3). Set "
            "OAUTH2_ISSUER to the server's public URL, e.g. "
            "'https://auth.example.com'."
        )
