"""A small MCP server whose authorization server is the example app.

``python -m example_app.mcp_server [--host 127.0.0.1] [--port 8001] [--issuer URL]``
(or ``scripts/run-mcp-example``, which installs the ``mcp`` extra first)
serves, with the official ``mcp`` Python SDK over streamable HTTP:

* ``/mcp`` — the MCP endpoint, with one tool, ``whoami``: the token's user,
  client and scopes. Its URL is the resource identifier (RFC 8707) that
  clients ask tokens for;
* ``/.well-known/oauth-protected-resource/mcp`` — its protected resource
  metadata (RFC 9728), naming the issuer as its authorization server.

A request without a valid token for this resource gets ``401`` with
``WWW-Authenticate: Bearer …, resource_metadata="…"``: an MCP client
follows it, reads the issuer's metadata, registers itself (RFC 7591: the
example app must run with ``FLASK_OAUTH2_DYNAMIC_REGISTRATION=open``), and
sends the user through the example app's login and consent pages.

Tokens are checked by :class:`flask_refreshgrant.resource_server.TokenVerifier`
through :class:`~flask_refreshgrant.resource_server.mcp_sdk.MCPTokenVerifier`:
JWT access tokens by the issuer's JWKS, opaque ones by introspection with
this server's own client (given, or provisioned on the example app's
database, see :mod:`.mcp_credentials`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer

from flask_refreshgrant.resource_server import TokenVerifier
from flask_refreshgrant.resource_server.mcp_sdk import MCPTokenVerifier

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8001
#: Where ``scripts/run-example`` serves the example app.
DEFAULT_ISSUER = "http://127.0.0.1:5000"
MCP_PATH = "/mcp"


def default_issuer() -> str:
    """The example app's base URL: ``EXAMPLE_BASE_URL`` (or
    ``FLASK_EXAMPLE_BASE_URL``) when set, else ``scripts/run-example``'s."""
    for name in ("FLASK_EXAMPLE_BASE_URL", "EXAMPLE_BASE_URL"):
        value = os.environ.get(name)
        if value:
            return value.rstrip("/")
    return DEFAULT_ISSUER


def resource_url(host: str, port: int) -> str:
    """The MCP endpoint's URL on ``host:port`` (its resource identifier)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{MCP_PATH}"


def build_server(
    resource: str, issuer: str, verifier: TokenVerifier, scopes: Sequence[str] = ()
) -> MCPServer:
    """The MCP server: one tool, tokens checked by ``verifier``.

    ``scopes`` are required of every token and announced in the resource
    metadata (``scopes_supported``); none: any token for ``resource``.
    """
    server: MCPServer = MCPServer(
        name="flask-refreshgrant example MCP server",
        token_verifier=MCPTokenVerifier(verifier),
        auth=AuthSettings(
            issuer_url=issuer,  # type: ignore[arg-type]  # pydantic parses it
            resource_server_url=resource,  # type: ignore[arg-type]
            required_scopes=list(scopes) or None,
            validate_token_resource=True,
        ),
    )

    @server.tool(description="Who the access token was issued to, and its scopes.")
    def whoami() -> dict[str, Any]:
        token = get_access_token()
        if token is None:  # pragma: no cover (the SDK's middleware ran first)
            raise RuntimeError("no access token")
        claims = token.claims or {}
        return {
            "user": claims.get("username", token.subject),
            "user_id": token.subject,
            "client_id": token.client_id,
            "scopes": token.scopes,
            "audience": token.resource,
            "expires_at": token.expires_at,
        }

    return server


def check_issuer(issuer: str) -> str | None:
    """A warning if the issuer's metadata cannot be read or offers no
    dynamic registration (MCP clients register themselves), else ``None``."""
    url = issuer.rstrip("/") + "/.well-known/oauth-authorization-server"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
            metadata = json.loads(response.read(65536))
    except (OSError, ValueError) as error:
        return f"cannot read {url} ({error}): is the example app running there?"
    if not isinstance(metadata, dict) or "registration_endpoint" not in metadata:
        return (
            f"{issuer} offers no dynamic client registration, which MCP clients "
            "use: start the example app with FLASK_OAUTH2_DYNAMIC_REGISTRATION=open"
        )
    return None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m example_app.mcp_server", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--issuer",
        default=None,
        help=f"the example app's base URL (default: EXAMPLE_BASE_URL, else {DEFAULT_ISSUER})",
    )
    parser.add_argument(
        "--url",
        default=None,
        help="the MCP endpoint's public URL, its resource identifier "
        "(default: http://HOST:PORT/mcp)",
    )
    parser.add_argument(
        "--scope",
        action="append",
        default=[],
        help="a scope every token must hold (repeatable; default: none)",
    )
    parser.add_argument(
        "--client-id",
        default=os.environ.get("MCP_CLIENT_ID"),
        help="this server's client for introspection (default: MCP_CLIENT_ID; "
        "unset: one is registered on the example app's database)",
    )
    parser.add_argument("--client-secret", default=os.environ.get("MCP_CLIENT_SECRET"))
    parser.add_argument(
        "--jwt-only",
        action="store_true",
        help="no introspection client: accept JWT access tokens only "
        "(the example app with FLASK_OAUTH2_ACCESS_TOKEN_FORMAT=jwt)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    issuer = (args.issuer or default_issuer()).rstrip("/")
    resource = args.url or resource_url(args.host, args.port)
    client_id, client_secret = args.client_id, args.client_secret
    if args.jwt_only:
        client_id = client_secret = None
    elif client_id is None or client_secret is None:
        from .mcp_credentials import provision

        client_id, client_secret = provision(resource)
    verifier = TokenVerifier(
        issuer, resource, client_id=client_id, client_secret=client_secret
    )
    server = build_server(resource, issuer, verifier, args.scope)
    warning = check_issuer(issuer)
    if warning is not None:
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    introspection = "JWT only" if client_id is None else f"client {client_id}"
    print(
        f"MCP server: {resource} (authorization server {issuer}; "
        f"opaque tokens by introspection: {introspection})",
        flush=True,
    )
    server.run("streamable-http", host=args.host, port=args.port)


if __name__ == "__main__":
    main()
