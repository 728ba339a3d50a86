"""Issue 19, point 12: served by plain ``gunicorn 'example_app:create_app()'``
on a loopback address without ``OAUTH2_ISSUER`` or ``EXAMPLE_BASE_URL``, the
example app's issuer names that address, whatever ``Host`` a request sends
(SPEC §8: served on any host and port)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import requests

from .live import REQUEST_TIMEOUT, live_server

METADATA = "/.well-known/oauth-authorization-server"


def test_the_issuer_is_pinned_to_the_loopback_address_served(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'test.db'}"
    with live_server(tmp_path, database_url, tell_base_url=False) as server:
        port = urlsplit(server.base_url).port
        assert port is not None

        def issuer(host: str | None) -> str:
            headers = {} if host is None else {"Host": host}
            response = requests.get(
                server.base_url + METADATA, headers=headers, timeout=REQUEST_TIMEOUT
            )
            assert response.status_code == 200, response.text
            value: str = response.json()["issuer"]
            return value

        # Forged hosts, and a loopback name on a port where nothing listens.
        for forged in ("evil.example", "evil.example:443", f"127.0.0.1:{port + 1}"):
            assert issuer(forged) == server.base_url, forged
        # The loopback name the browser used, on the port served, stays.
        assert issuer(None) == server.base_url
        assert issuer(f"localhost:{port}") == f"http://localhost:{port}"
        # Every absolute URL follows: the token endpoint in metadata too.
        response = requests.get(
            server.base_url + METADATA,
            headers={"Host": "evil.example"},
            timeout=REQUEST_TIMEOUT,
        )
        assert response.json()["token_endpoint"] == server.base_url + "/oauth2/token"
