"""The demo account and client: who they are, where the client's credentials
are kept, and the banner that shows them with curl commands to paste."""

from __future__ import annotations

import base64
import json
import shlex
from pathlib import Path

from flask import Flask

from flask_refreshgrant import RefreshGrant

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo"  # noqa: S105 (the demo account)
DEMO_CLIENT_NAME = "Demo client"
DEMO_SCOPE = "PRODUCTION SANDBOX"
DEMO_GRANT_TYPES = ("password", "refresh_token", "authorization_code")
#: The demo client's secret is kept here for the banner: a convenience of the
#: example app only (the extension itself stores nothing but a digest).
DEMO_CREDENTIALS_FILE = "demo-client.json"

#: What each demo scope lets a client do, for the consent and home pages.
SCOPE_DESCRIPTIONS = {
    "PRODUCTION": "call the production APIs on your behalf",
    "SANDBOX": "call the sandbox APIs on your behalf",
}


def demo_redirect_uri(app: Flask) -> str:
    """The demo client's redirect URI: ``/callback`` under ``EXAMPLE_BASE_URL``."""
    return str(app.config["EXAMPLE_BASE_URL"]).rstrip("/") + "/callback"


def demo_credentials(app: Flask) -> dict[str, str]:
    path = Path(app.instance_path) / DEMO_CREDENTIALS_FILE
    return dict(json.loads(path.read_text()))


def banner(app: Flask) -> str:
    """The demo credentials and curl commands that work when pasted."""
    creds = demo_credentials(app)
    client_id, secret = creds["client_id"], creds["client_secret"]
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    url = app.config["EXAMPLE_BASE_URL"] + RefreshGrant.state(app).settings.url_prefix
    token_url = shlex.quote(url + "/token")
    extract = (
        "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"refresh_token\"])'"
    )
    return f"""
=== flask-refreshgrant example app ===
demo user:     {DEMO_USERNAME} / {DEMO_PASSWORD}
client_id:     {client_id}
client_secret: {secret}
scopes:        {DEMO_SCOPE}
web page:      {app.config["EXAMPLE_BASE_URL"]}/  (get tokens through the UI)

# 1. Password grant: an access token and a refresh token
curl -s -u {client_id}:{secret} -d grant_type=password -d username={DEMO_USERNAME} -d password={DEMO_PASSWORD} -d 'scope={DEMO_SCOPE}' {token_url}

# 2. Refresh grant (paste the refresh_token from step 1 in place of REFRESH_TOKEN)
curl -s -H 'Authorization: Basic {basic}' -d 'grant_type=refresh_token&refresh_token=REFRESH_TOKEN&scope=PRODUCTION' {token_url}

# Or both at once:
REFRESH_TOKEN=$(curl -s -u {client_id}:{secret} -d grant_type=password -d username={DEMO_USERNAME} -d password={DEMO_PASSWORD} -d 'scope={DEMO_SCOPE}' {token_url} | {extract})
curl -s -H 'Authorization: Basic {basic}' -d "grant_type=refresh_token&refresh_token=$REFRESH_TOKEN&scope=PRODUCTION" {token_url}

# Call the protected API with an access_token:
curl -s -H 'Authorization: Bearer ACCESS_TOKEN' {shlex.quote(app.config["EXAMPLE_BASE_URL"] + "/api/me")}

# DPoP (RFC 9449): a public client's tokens bound to its key, step by step:
python -m example_app.dpop_client --base-url {shlex.quote(app.config["EXAMPLE_BASE_URL"])}
"""
