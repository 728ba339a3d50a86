"""What ``flask oauth2 …`` prints (SPEC §7.1): every ``--json`` document
written the same way, text output that agrees with itself and the docs, and
control characters in stored text shown, never obeyed."""

from __future__ import annotations

import json

from .conftest import Harness, oauth2_cli, oauth2_json


def test_every_json_document_is_written_the_same_way(harness: Harness) -> None:
    """One format for all: indented, so ``create-client`` looks like the rest."""
    created = oauth2_cli(
        harness, "create-client", "--name", "x", "--grant-type", "password", "--json"
    )
    client_id = json.loads(created.stdout)["client_id"]
    rotated = oauth2_cli(harness, "clients", "rotate-secret", client_id, "--json")
    shown = oauth2_cli(harness, "clients", "show", client_id, "--json")
    for result in (created, rotated, shown):
        assert result.exit_code == 0, result.output
        document = json.loads(result.stdout)
        assert result.stdout == json.dumps(document, indent=2) + "\n"


def test_list_and_show_write_grant_types_alike(harness: Harness) -> None:
    client = harness.create_client(grant_types=("password", "refresh_token"))
    listed = oauth2_cli(harness, "clients", "list").stdout
    shown = oauth2_cli(harness, "clients", "show", client.client_id).stdout
    assert " password,refresh_token " in listed
    assert "grant_types:" in shown
    assert "password,refresh_token\n" in shown
    assert "password refresh_token" not in listed + shown


def test_inherited_settings_show_the_apps_value_as_the_docs_write_it(
    harness: Harness,
) -> None:
    client = harness.create_client(renew_refresh_token=False)
    shown = oauth2_cli(harness, "clients", "show", client.client_id).stdout
    lines = dict(line.split(": ", 1) for line in shown.splitlines())
    # OAUTH2_REFRESH_TOKEN_ABSOLUTE_LIFETIME's default is None (no cap).
    assert lines["refresh_token_absolute_lifetime"].strip() == "inherits (app: None)"
    assert lines["refresh_token_reuse_detection"].strip() == "inherits (app: True)"
    assert lines["renew_refresh_token"].strip() == "False"
    assert "null" not in shown and "true" not in shown


def test_control_characters_in_a_name_cannot_forge_rows(harness: Harness) -> None:
    forged = "innocent\r\nfake-id  evil  confidential\x1b[2J"
    client = harness.create_client(grant_types=("password",))
    oauth2_cli(harness, "clients", "update", client.client_id, "--name", forged)
    listed = oauth2_cli(harness, "clients", "list").stdout
    lines = listed.splitlines()
    assert len(lines) == 2  # the header and one client
    assert "innocent\\r\\nfake-id  evil  confidential\\x1b[2J" in lines[1]
    assert "\x1b" not in listed and "\r" not in listed
    shown = oauth2_cli(harness, "clients", "show", client.client_id).stdout
    assert "\r" not in shown and "\x1b" not in shown
    assert "name:" in shown and "innocent\\r\\nfake-id" in shown
    # JSON keeps the name as stored (escaped by JSON itself).
    assert oauth2_json(harness, "clients", "show", client.client_id)["name"] == forged


def test_a_revoked_grant_shows_no_future_expiry(harness: Harness) -> None:
    client = harness.create_client()
    assert harness.password_grant(client).status_code == 200
    (grant,) = oauth2_json(harness, "grants", "list")
    oauth2_cli(harness, "grants", "revoke", grant["grant_id"])
    listed = oauth2_cli(harness, "grants", "list", "--all").stdout.splitlines()
    row = listed[1]
    assert " revoked " in row
    assert row.rstrip().endswith(" -")  # EXPIRES: nothing, not a future time
    shown = oauth2_cli(harness, "grants", "show", grant["grant_id"]).stdout
    assert "expires_at:        -\n" in shown
