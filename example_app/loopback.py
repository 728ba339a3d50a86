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
        served = _served_address(environ)
        default_port = 443 if environ.get("wsgi.url_scheme") == "https" else 80
        host = environ.get("HTTP_HOST", "")
        if served is not None and not _names(host, served, default_port):
            environ["HTTP_HOST"] = served
        result: Iterable[bytes] = self.app(environ, start_response)
        return result


def _served_address(environ: dict[str, Any]) -> str | None:
    """``host:port`` the server listens on, if that is a loopback address."""
    name, port = environ.get("SERVER_NAME", ""), environ.get("SERVER_PORT", "")
    if not name or not str(port).isdigit():
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
