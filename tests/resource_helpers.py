"""An issuer stand-in for resource server tests: a real HTTP server (in a
thread) serving RFC 8414 metadata and a JWKS the test can change, and JWT
access tokens (RFC 9068) the test signs itself."""

from __future__ import annotations

import json
import secrets
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response
from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import Key
from werkzeug.serving import make_server

from .conftest import new_key


@dataclass
class Issuer:
    """The stand-in's URL, its published keys (by ``kid``) and how often
    its JWKS was fetched."""

    url: str = ""
    published: dict[str, Key] = field(default_factory=dict)
    jwks_hits: int = 0

    def add_key(self, kid: str, alg: str = "ES256") -> Key:
        key = new_key(alg)
        self.published[kid] = key
        return key

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                {**key.as_dict(private=False), "kid": kid, "use": "sig"}
                for kid, key in self.published.items()
            ]
        }

    def sign(
        self,
        key: Key,
        kid: str,
        *,
        alg: str = "ES256",
        header: dict[str, Any] | None = None,
        now: float | None = None,
        **claims: Any,
    ) -> str:
        """A JWT access token; ``claims`` override the usual ones (``None``
        drops one)."""
        issued = int(time.time() if now is None else now)
        body: dict[str, Any] = {
            "iss": self.url,
            "sub": "42",
            "client_id": "client-1",
            "aud": "https://api.example.com/v1",
            "scope": "read write",
            "iat": issued,
            "exp": issued + 300,
            "jti": secrets.token_hex(8),
        }
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        protected = {"alg": alg, "typ": "at+jwt", "kid": kid, **(header or {})}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SecurityWarning)
            return jwt.encode(protected, body, key, algorithms=[alg])


@contextmanager
def issuer_server() -> Iterator[Issuer]:
    """Serve an :class:`Issuer` on a free port of 127.0.0.1 until exit."""
    issuer = Issuer()
    app = Flask("issuer_stand_in")

    @app.get("/.well-known/oauth-authorization-server")
    def metadata() -> Response:
        body = {"issuer": issuer.url, "jwks_uri": issuer.url + "/jwks"}
        return Response(json.dumps(body), content_type="application/json")

    @app.get("/jwks")
    def jwks() -> Response:
        issuer.jwks_hits += 1
        return Response(json.dumps(issuer.jwks()), content_type="application/json")

    server = make_server("127.0.0.1", 0, app, threaded=True)
    issuer.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        thread.join()
