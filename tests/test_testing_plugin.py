"""``flask_refreshgrant.testing`` (SPEC §7.4): an app's own tests get a client
and real tokens without driving a flow."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flask_refreshgrant import ClientCredentials, ExtensionError, signals
from flask_refreshgrant.testing import create_client, mint_tokens

from .conftest import Harness, listen_to

PLUGIN_APP = Path(__file__).parent / "plugin_app"


def test_an_app_outside_the_repository_tests_its_route_with_the_plugin(
    tmp_path: Path,
) -> None:
    """The app in tests/plugin_app, copied away from this repository and its
    conftest, enables the plugin in one line and tests a protected route."""
    app_dir = tmp_path / "someone_elses_app"
    shutil.copytree(PLUGIN_APP, app_dir)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=app_dir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_minted_tokens_call_a_protected_route(harness: Harness) -> None:
    user_id = harness.create_user("bob", "secret")
    tokens = mint_tokens(user_id, "PRODUCTION", app=harness.app)
    assert tokens.token_type == "Bearer"
    assert tokens.scope == "PRODUCTION"
    response = harness.client.get("/api/ping", headers=tokens.headers)
    assert response.status_code == 200
    assert response.json == {"user_id": str(user_id), "scope": "PRODUCTION"}


def test_minted_refresh_token_is_a_real_one(harness: Harness) -> None:
    """Stored like any grant's: it refreshes, rotates and then counts as reuse."""
    client = create_client(harness.app, scope="PRODUCTION SANDBOX")
    with listen_to(signals.token_issued) as issued:
        tokens = mint_tokens("1", client=client, app=harness.app)
    assert [c["grant_type"] for c in issued] == ["authorization_code"]
    assert tokens.scope == "PRODUCTION SANDBOX"
    assert tokens.refresh_token is not None
    assert tokens.response["refresh_token_expires_in"] == 86400
    refreshed = harness.refresh(client, tokens.refresh_token)
    assert refreshed.status_code == 200, refreshed.json
    assert harness.refresh(client, tokens.refresh_token).status_code == 400


def test_no_refresh_token_for_a_client_without_the_grant(harness: Harness) -> None:
    client = create_client(
        harness.app, grant_types=["authorization_code"], scope="PRODUCTION"
    )
    tokens = mint_tokens("1", client=client, app=harness.app)
    assert tokens.refresh_token is None
    assert "refresh_token" not in tokens.response


def test_a_scope_beyond_the_client_is_refused(harness: Harness) -> None:
    client = create_client(harness.app, scope="SANDBOX")
    with pytest.raises(ValueError, match="PRODUCTION"):
        mint_tokens("1", "PRODUCTION", client, app=harness.app)


def test_an_unknown_client_is_refused(harness: Harness) -> None:
    bogus = ClientCredentials(client_id="nobody", client_secret=None)
    with pytest.raises(ExtensionError, match="nobody"):
        mint_tokens("1", client=bogus, app=harness.app)


def test_public_test_clients_have_no_secret(harness: Harness) -> None:
    client = create_client(harness.app, public=True, scope="PRODUCTION")
    assert client.client_secret is None
    tokens = mint_tokens("1", client=client, app=harness.app)
    assert harness.client.get("/api/ping", headers=tokens.headers).status_code == 200
