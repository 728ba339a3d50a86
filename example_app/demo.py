"""The demo account and client: who they are, which redirect URIs the client
has, where its credentials are kept (per database, see
:class:`.models.DemoCredentials`), and the banner that shows them with curl
commands to paste.

Where the app is served: ``EXAMPLE_BASE_URL`` when it is set (then the demo
client's redirect URI is ``EXAMPLE_BASE_URL/callback``). Unset, the pages
work on whatever loopback host and port the browser used: the demo client
is registered with loopback redirect URIs without a port, which match any
port (RFC 8252 §7.3), and never with a host taken from a request's ``Host``
header (anyone can send one).
"""

from __future__ import annotations

import base64
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import click
from flask import Flask

from flask_refreshgrant import RefreshGrant

from .models import DemoCredentials, db

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo"  # noqa: S105 (the demo account)
DEMO_CLIENT_NAME = "Demo client"
DEMO_SCOPE = "PRODUCTION SANDBOX"
DEMO_GRANT_TYPES = ("password", "refresh_token", "authorization_code")
#: The demo client's row of ``example_demo_credentials``.
DEMO_CREDENTIALS_NAME = "demo"
#: A copy of the credentials of the database the app last started with, in
#: the instance folder, for scripts (the database holds the real ones).
DEMO_CREDENTIALS_FILE = "demo-client.json"

#: What each demo scope lets a client do, for the consent and home pages.
SCOPE_DESCRIPTIONS = {
    "PRODUCTION": "call the production APIs on your behalf",
    "SANDBOX": "call the sandbox APIs on your behalf",
}


#: The demo client's redirect URIs when ``EXAMPLE_BASE_URL`` is unset.
LOOPBACK_REDIRECT_URIS = (
    "http://127.0.0.1/callback",
    "http://localhost/callback",
    "http://[::1]/callback",
)
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def configured_base_url(app: Flask) -> str | None:
    """``EXAMPLE_BASE_URL`` without a trailing slash, or ``None``."""
    value = app.config.get("EXAMPLE_BASE_URL")
    return str(value).rstrip("/") if value else None


def is_loopback(host: str) -> bool:
    """Whether ``host`` (``name[:port]`` as in a ``Host`` header) is loopback."""
    try:
        return urlsplit(f"//{host}").hostname in _LOOPBACK_HOSTS
    except ValueError:
        return False


def demo_redirect_uris(app: Flask) -> list[str]:
    """The redirect URIs the demo client must have registered."""
    configured = configured_base_url(app)
    if configured is not None:
        return [configured + "/callback"]
    return list(LOOPBACK_REDIRECT_URIS)


def _option(argv: Sequence[str], names: tuple[str, ...]) -> str | None:
    for index, arg in enumerate(argv):
        if arg in names and index + 1 < len(argv):
            return argv[index + 1]
        for name in names:
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.partition("=")[2]
    return None


def banner_base_url(app: Flask) -> tuple[str, bool]:
    """Where the banner says the app is, and whether that is a guess.

    ``EXAMPLE_BASE_URL`` if set; else guessed from the command line:
    gunicorn's ``--bind`` (default ``127.0.0.1:8000``) or ``flask run``'s
    ``--host``/``--port`` (default ``127.0.0.1:5000``).
    """
    configured = configured_base_url(app)
    if configured is not None:
        return configured, False
    if os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn"):
        bind = _option(sys.argv, ("--bind", "-b")) or "127.0.0.1:8000"
        host, _, port = bind.rpartition(":")
        if bind.startswith("unix:") or not port.isdigit():
            host, port = "", "8000"
    else:
        host = _option(sys.argv, ("--host", "-h")) or ""
        port = _option(sys.argv, ("--port", "-p")) or os.environ.get(
            "FLASK_RUN_PORT", "5000"
        )
    if host in ("", "0.0.0.0", "::", "[::]"):  # noqa: S104 (reading, not binding)
        host = "127.0.0.1"
    return f"http://{host}:{port}", True


def demo_credentials(app: Flask) -> dict[str, str]:
    """The demo client's ``client_id`` and ``client_secret`` in this app's
    database."""
    with app.app_context():
        row = db.session.get(DemoCredentials, DEMO_CREDENTIALS_NAME)
    if row is None or row.client_secret is None:  # pragma: no cover
        raise RuntimeError("the demo client is not seeded: create the app first")
    return {"client_id": row.client_id, "client_secret": row.client_secret}


def serving() -> bool:
    """Whether this process is starting a server (gunicorn, ``flask run``)
    rather than running another ``flask …`` command."""
    if os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn"):
        return True
    context = click.get_current_context(silent=True)
    return context is not None and context.info_name == "run"


def announce(text: str) -> None:
    """Say ``text`` where it belongs: at a server's start on stdout; during
    any other command on stderr, so that stdout holds only the command's
    own output (``flask oauth2 clients list --json`` prints only JSON)."""
    print(text, file=sys.stdout if serving() else sys.stderr, flush=True)


def python_command() -> str:
    """The interpreter running this app, as the shell should call it: the
    virtualenv's python, which has the package (``python`` in the user's
    shell may be another one)."""
    executable = Path(sys.executable)
    try:
        relative = executable.relative_to(Path.cwd())
    except ValueError:
        return shlex.quote(str(executable))
    return shlex.quote(str(relative))


def support_demo_scopes(config: dict[str, object]) -> None:
    """The demo client's scopes join ``OAUTH2_SCOPES_SUPPORTED`` when an
    app sets a list without them (``None`` already allows any scope);
    otherwise seeding the demo client would stop the app from starting."""
    supported = config.get("OAUTH2_SCOPES_SUPPORTED")
    if isinstance(supported, str):
        scopes = supported.split()
    elif isinstance(supported, list | tuple):
        scopes = list(supported)
    else:  # None allows any; any other shape: init_app names it
        return
    missing = [scope for scope in DEMO_SCOPE.split() if scope not in scopes]
    if missing:
        config["OAUTH2_SCOPES_SUPPORTED"] = [*scopes, *missing]


def banner(app: Flask) -> str:
    """The demo credentials and curl commands that work when pasted."""
    creds = demo_credentials(app)
    client_id, secret = creds["client_id"], creds["client_secret"]
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    base, guessed = banner_base_url(app)
    url = base + RefreshGrant.state(app).settings.url_prefix
    token_url = shlex.quote(url + "/token")
    where = (
        "\n               (address guessed from the command line: set "
        "EXAMPLE_BASE_URL if the app is elsewhere; the web pages work on any "
        "loopback host and port)"
        if guessed
        else ""
    )
    extract = (
        "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"refresh_token\"])'"
    )
    return f"""
=== flask-refreshgrant example app ===
demo user:     {DEMO_USERNAME} / {DEMO_PASSWORD}
client_id:     {client_id}
client_secret: {secret}
scopes:        {DEMO_SCOPE}
web page:      {base}/  (get tokens through the UI){where}

# 1. Password grant: an access token and a refresh token
curl -s -u {client_id}:{secret} -d grant_type=password -d username={DEMO_USERNAME} -d password={DEMO_PASSWORD} -d 'scope={DEMO_SCOPE}' {token_url}

# 2. Refresh grant (paste the refresh_token from step 1 in place of REFRESH_TOKEN)
curl -s -H 'Authorization: Basic {basic}' -d 'grant_type=refresh_token&refresh_token=REFRESH_TOKEN&scope=PRODUCTION' {token_url}

# Or both at once:
REFRESH_TOKEN=$(curl -s -u {client_id}:{secret} -d grant_type=password -d username={DEMO_USERNAME} -d password={DEMO_PASSWORD} -d 'scope={DEMO_SCOPE}' {token_url} | {extract})
curl -s -H 'Authorization: Basic {basic}' -d "grant_type=refresh_token&refresh_token=$REFRESH_TOKEN&scope=PRODUCTION" {token_url}

# Call the protected API with an access_token:
curl -s -H 'Authorization: Bearer ACCESS_TOKEN' {shlex.quote(base + "/api/me")}

# Introspect, then revoke, the refresh token (the whole family goes):
curl -s -u {client_id}:{secret} -d token=REFRESH_TOKEN {shlex.quote(url + "/introspect")}
curl -s -u {client_id}:{secret} -d token=REFRESH_TOKEN -d token_type_hint=refresh_token {shlex.quote(url + "/revoke")}

# DPoP (RFC 9449): a public client's tokens bound to its key, step by step:
{python_command()} -m example_app.dpop_client --base-url {shlex.quote(base)}
"""
