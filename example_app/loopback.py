"""The issuer pinned to the loopback address the app is served on.

With neither ``OAUTH2_ISSUER`` nor ``EXAMPLE_BASE_URL`` set (``gunicorn
'example_app:create_app()'`` as a newcomer runs it), the extension takes the
issuer from each request's ``Host`` header. When the server itself listens
on a loopback address (``SERVER_NAME`` and ``SERVER_PORT`` of the WSGI
environment are the listening socket's, under gunicorn and ``flask run``),
:class:`PinLoopbackHost` keeps only a ``Host`` header that names a loopback
host *on that port* (the browser may say ``localhost`` or ``127.0.0.1``:
both reach it, and its cookies belong to the name it used) and replaces any
other with the served address. So metadata, ``iss`` and every absolute URL
name a loopback address on the port that listens, whatever ``Host`` a
request carries.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from .demo import is_loopback

WSGIApp = Any


class PinLoopbackHost:
    """WSGI middleware: see the module's docstring."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        pinned = _pinned_host(
            environ.get("HTTP_HOST", ""),
            environ.get("SERVER_NAME", ""),
            str(environ.get("SERVER_PORT", "")),
            environ.get("wsgi.url_scheme") == "https",
        )
        if pinned is not None:
            environ["HTTP_HOST"] = pinned
        result: Iterable[bytes] = self.app(environ, start_response)
        return result


@functools.lru_cache(maxsize=256)
def _pinned_host(host: str, name: str, port: str, https: bool) -> str | None:
    """The ``Host`` header to put in place of ``host``, or ``None`` to keep
    it. Remembered (bounded: the header is the client's to choose), since
    every request asks the same question, and the answer takes URL parsing."""
    served = _served_address(name, port)
    if served is not None and not _names(host, served, 443 if https else 80):
        return served
    return None


def _served_address(name: str, port: str) -> str | None:
    """``host:port`` the server listens on, if that is a loopback address."""
    if not name or not port.isdigit():
        return None
    host = f"[{name}]" if ":" in name else name
    address = f"{host}:{port}"
    return address if is_loopback(address) else None


def _names(host_header: str, served: str, default_port: int) -> bool:
    """Whether ``host_header`` is a loopback name on the served port."""
    try:
        port = urlsplit(f"//{host_header}").port or default_port
    except ValueError:
        return False
    served_port = urlsplit(f"//{served}").port
    return is_loopback(host_header) and port == served_port
