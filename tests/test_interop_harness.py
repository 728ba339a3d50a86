"""The Node interop harness itself works: jose signs a JWT, a JWKS is served
over loopback HTTP, and ``jwt_verify.mjs`` accepts it and refuses what it
must (RFC 9068 §4: issuer, audience, ``typ`` ``at+jwt``, signature)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .interop_node import NodeInterop, NodeResult, command_line

ISSUER = "https://issuer.example"
AUDIENCE = "https://api.example"


@contextmanager
def serve_jwks(jwks: dict[str, Any]) -> Iterator[str]:
    """Serve ``jwks`` at ``http://127.0.0.1:PORT/jwks.json``; its URL."""
    body = json.dumps(jwks).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/jwks.json":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/jwk-set+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def sign(node: NodeInterop, **options: str) -> dict[str, Any]:
    signed: dict[str, Any] = node.run(
        "jwt_sign.mjs", issuer=ISSUER, audience=AUDIENCE, **options
    )
    return signed


def verify(
    node: NodeInterop, jwks_uri: str, token: str, audience: str = AUDIENCE
) -> NodeResult:
    return node.result(
        "jwt_verify.mjs", token, jwks_uri=jwks_uri, issuer=ISSUER, audience=audience
    )


def test_jwt_verify_accepts_a_token_signed_by_a_served_key(node: NodeInterop) -> None:
    for alg in ("ES256", "RS256", "EdDSA"):
        signed = sign(node, alg=alg)
        with serve_jwks(signed["jwks"]) as jwks_uri:
            result = verify(node, jwks_uri, signed["token"])
        assert result.returncode == 0, result.data
        assert result.data["protectedHeader"] == {
            "alg": alg,
            "typ": "at+jwt",
            "kid": "self-test",
        }
        payload = result.data["payload"]
        assert payload["iss"] == ISSUER
        assert payload["aud"] == AUDIENCE
        assert payload["sub"] == "self-test-user"


def test_jwt_verify_refuses_wrong_claims_type_and_key(node: NodeInterop) -> None:
    signed = sign(node)
    other = sign(node)  # another key pair, same kid
    with serve_jwks(signed["jwks"]) as jwks_uri:
        wrong_audience = verify(
            node, jwks_uri, signed["token"], audience="https://other.example"
        )
        key = json.dumps(signed["private_jwk"])
        wrong_typ = verify(
            node, jwks_uri, sign(node, private_jwk=key, typ="JWT")["token"]
        )
        expired = verify(
            node,
            jwks_uri,
            sign(node, private_jwk=key, expires_in="-120")["token"],
        )
        wrong_key = verify(node, jwks_uri, other["token"])
    assert wrong_audience.error["code"] == "ERR_JWT_CLAIM_VALIDATION_FAILED"
    assert wrong_audience.error["claim"] == "aud"
    assert wrong_typ.error["code"] == "ERR_JWT_CLAIM_VALIDATION_FAILED"
    assert wrong_typ.error["claim"] == "typ"
    # A token of another key, unknown to the JWKS (jose looks keys up by kid
    # and alg): its signature does not verify with the served key.
    assert wrong_key.error["code"] == "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"
    assert expired.error["code"] == "ERR_JWT_EXPIRED"


def test_scripts_report_usage_errors_as_json(node: NodeInterop) -> None:
    result = node.result("oidc.mjs", "no-such-step")
    assert result.returncode == 2
    assert result.error["code"] == "ERR_USAGE"


def test_option_values_may_start_with_a_dash(node: NodeInterop) -> None:
    """A generated secret or token may start with ``-``: keyword options go
    as ``--name=value``, which Node's ``parseArgs`` never takes for a flag."""
    assert command_line("step", client_secret="-abc", no_id_token=True, nonce=None) == [
        "step",
        "--client-secret=-abc",
        "--no-id-token",
    ]
    signed = sign(node, sub="-starts-with-a-dash")
    with serve_jwks(signed["jwks"]) as jwks_uri:
        result = verify(node, jwks_uri, signed["token"])
    assert result.data["payload"]["sub"] == "-starts-with-a-dash"
