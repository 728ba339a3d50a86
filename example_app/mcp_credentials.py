"""The example MCP server's own client: the credentials it introspects
opaque access tokens with (RFC 7662).

A real MCP server gets them from its operator (``flask oauth2 create-client
--grant-type client_credentials --serves-resource URL``) and is passed them
(``--client-id``/``--client-secret`` or ``MCP_CLIENT_ID``/``MCP_CLIENT_SECRET``).
So that trying it takes no such step, :func:`provision` registers one
through the example app itself, on the example app's database (the same
``DATABASE_URL`` and instance folder as the running example app), once per
resource URL: the credentials are kept in the instance folder, as the demo
client's are, and reused on the next start.
"""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

from flask_refreshgrant import RefreshGrant

CREDENTIALS_FILE = "mcp-server-clients.json"


def provision(resource: str) -> tuple[str, str]:
    """The id and secret of a client that serves ``resource``: the one kept in
    the instance folder if it still exists, else a new one."""
    from . import create_app  # the example app: only when asked to provision
    from .models import oauth

    app = create_app({"EXAMPLE_QUIET": True})
    path = Path(app.instance_path) / CREDENTIALS_FILE
    with app.app_context(), (path.parent / ".mcp-setup.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        kept: dict[str, dict[str, str]] = (
            json.loads(path.read_text()) if path.exists() else {}
        )
        found = kept.get(resource)
        store = RefreshGrant.state(app).store
        if found is not None and store.get_client(found["client_id"]) is not None:
            return found["client_id"], found["client_secret"]
        created = oauth.create_client(
            name=f"MCP server {resource}",
            grant_types=["client_credentials"],
            serves_resources=[resource],
        )
        assert created.client_secret is not None  # a confidential client
        kept[resource] = {
            "client_id": created.client_id,
            "client_secret": created.client_secret,
        }
        path.touch(mode=0o600)
        path.write_text(json.dumps(kept, indent=2))
        return created.client_id, created.client_secret
