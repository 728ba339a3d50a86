"""The issuer identifier: ``OAUTH2_ISSUER``, or the request's own root.

Metadata (RFC 8414) announces it as ``issuer`` and every authorization
response carries it as ``iss`` (RFC 9207, the mix-up defence of RFC 9700
§4.4): one function computes both, so they always agree.
"""

from __future__ import annotations

from flask import Flask, request

from .config import Settings


def issuer_url(settings: Settings) -> str:
    """``OAUTH2_ISSUER``, else the scheme and host the request came to."""
    return settings.issuer or request.url_root.rstrip("/")


def warn_if_unset(app: Flask, settings: Settings) -> None:
    """Outside debug and testing, say that an unset ``OAUTH2_ISSUER`` makes
    the issuer follow the request's ``Host`` header."""
    if settings.issuer is None and not (app.debug or app.testing):
        app.logger.warning(
            "flask-refreshgrant: OAUTH2_ISSUER is not set, so the issuer in "
            "metadata and in authorization responses follows each request's "
            "Host header (a cache-poisoning risk, RFC 8414 section 3.3). Set "
            "OAUTH2_ISSUER to the server's public URL, e.g. "
            "'https://auth.example.com'."
        )
