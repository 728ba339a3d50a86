"""Managing clients (SPEC §2, §7.1): list, show, update, rotate the secret
with an overlap window, delete — from Python and from ``flask oauth2 clients``."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import click
import pytest

from flask_refreshgrant import (
    ClientCredentials,
    ClientRecord,
    ClientRegistrationError,
    NotFoundError,
    signals,
)
from flask_refreshgrant.cli.group import oauth2_cli as oauth2_cli_group
from flask_refreshgrant.config import PER_CLIENT_SETTINGS
from flask_refreshgrant.security import generate_client_id

from .conftest import (
    INVALID_REFRESH,
    START,
    Harness,
    basic_auth,
    listen_to,
    oauth2_cli,
    oauth2_json,
)

SETTING_NAMES = [s.name for s in PER_CLIENT_SETTINGS]

CLIENT_KEYS = {
    "client_id",
    "name",
    "grant_types",
    "scope",
    "redirect_uris",
    "public",
    "created_at",
    "previous_secret_expires_at",
    "registered_by",
    "serves_resources",
    *SETTING_NAMES,
}


def show(h: Harness, client_id: str) -> ClientRecord:
    with h.app.app_context():
        return h.oauth.get_client(client_id)


def ping(h: Harness, access_token: str) -> int:
    headers = {"Authorization": "Bearer " + access_token}
    return h.client.get("/api/ping", headers=headers).status_code


def password_with_post(h: Harness, client_id: str, secret: str) -> int:
    """A password grant authenticating with ``client_secret_post``."""
    data = {
        "grant_type": "password",
        "username": "alice",
        "password": "wonderland",
        "client_id": client_id,
        "client_secret": secret,
    }
    return h.client.post("/oauth2/token", data=data).status_code


def password_with_basic(h: Harness, client_id: str, secret: str) -> int:
    data = {"grant_type": "password", "username": "alice", "password": "wonderland"}
    headers = {"Authorization": basic_auth(client_id, secret)}
    return h.client.post("/oauth2/token", data=data, headers=headers).status_code


# -- list and show -------------------------------------------------------------


def test_list_and_show_give_every_setting_and_no_secret(harness: Harness) -> None:
    first = harness.create_client(redirect_uris=["https://a.example/cb"])
    second = harness.create_client(
        grant_types=("client_credentials",),
        scope="SANDBOX",
        refresh_token_validity_period=600,
        renew_refresh_token=False,
    )
    with harness.app.app_context():
        records = harness.oauth.list_clients()
    assert [r.client_id for r in records] == [first.client_id, second.client_id]
    assert records[0] == ClientRecord(
        client_id=first.client_id,
        name="test",
        grant_types=("password", "refresh_token"),
        scope="PRODUCTION SANDBOX",
        redirect_uris=("https://a.example/cb",),
        public=False,
        created_at=START,
        settings=dict.fromkeys(SETTING_NAMES),
    )
    assert records[1].settings["refresh_token_validity_period"] == 600
    assert records[1].settings["renew_refresh_token"] is False
    assert records[1].settings["refresh_token_grace_period"] is None

    listed = oauth2_json(harness, "clients", "list")
    assert listed == [r.as_json() for r in records]
    assert all(set(entry) == CLIENT_KEYS for entry in listed)
    assert listed[1]["grant_types"] == ["client_credentials"]
    assert listed[1]["refresh_token_validity_period"] == 600
    assert listed[0]["refresh_token_validity_period"] is None  # inherits
    shown = oauth2_json(harness, "clients", "show", second.client_id)
    assert shown == listed[1]
    assert second.client_secret is not None
    assert second.client_secret not in str(listed)


def test_list_and_show_as_text(harness: Harness) -> None:
    assert oauth2_cli(harness, "clients", "list").stdout == "no clients\n"
    client = harness.create_client(access_token_validity_period=60)
    listed = oauth2_cli(harness, "clients", "list").stdout.splitlines()
    assert listed[0].split() == [
        "CLIENT_ID",
        "NAME",
        "TYPE",
        "GRANT",
        "TYPES",
        "SCOPE",
        "CREATED",
    ]
    assert listed[1].startswith(client.client_id)
    assert "confidential" in listed[1]
    shown = oauth2_cli(harness, "clients", "show", client.client_id).stdout
    assert "access_token_validity_period:" in shown
    assert "refresh_token_validity_period:" in shown
    assert "inherits (app: 86400)" in shown
    assert " 60\n" in shown


def test_create_client_takes_every_per_client_setting(harness: Harness) -> None:
    result = oauth2_json(
        harness,
        "create-client",
        "--name",
        "all",
        "--grant-type",
        "password",
        "--refresh-token-validity-period",
        "-1",
        "--no-renew",
        "--no-extend-renewed-expiry",
        "--refresh-token-absolute-lifetime",
        "7200",
        "--access-token-validity-period",
        "120",
        "--no-reuse-detection",
        "--grace-period",
        "30",
        "--dpop-bound",
        "--access-token-format",
        "jwt",
    )
    shown = oauth2_json(harness, "clients", "show", result["client_id"])
    assert {name: shown[name] for name in SETTING_NAMES} == {
        "refresh_token_validity_period": -1,
        "renew_refresh_token": False,
        "extend_renewed_refresh_token_expiry": False,
        "refresh_token_absolute_lifetime": 7200,
        "access_token_validity_period": 120,
        "refresh_token_reuse_detection": False,
        "refresh_token_grace_period": 30,
        "dpop_bound_access_tokens": True,
        "access_token_format": "jwt",
    }


# -- update --------------------------------------------------------------------


def test_update_changes_only_what_is_given(harness: Harness) -> None:
    client = harness.create_client(refresh_token_validity_period=600)
    before = show(harness, client.client_id)
    with harness.app.app_context():
        after = harness.oauth.update_client(
            client.client_id, name="renamed", access_token_validity_period=60
        )
    assert after.name == "renamed"
    assert after.settings["access_token_validity_period"] == 60
    assert after.settings["refresh_token_validity_period"] == 600
    assert (after.grant_types, after.scope) == (before.grant_types, before.scope)
    with harness.app.app_context():
        inherited = harness.oauth.update_client(
            client.client_id, refresh_token_validity_period=None
        )
    assert inherited.settings["refresh_token_validity_period"] is None
    assert inherited.settings["access_token_validity_period"] == 60


def test_a_new_validity_applies_to_new_tokens_only(harness: Harness) -> None:
    client = harness.create_client()
    first = harness.password_grant(client).json
    assert first is not None
    assert first["refresh_token_expires_in"] == 86400
    updated = oauth2_json(
        harness,
        "clients",
        "update",
        client.client_id,
        "--refresh-token-validity-period",
        "600",
        "--access-token-validity-period",
        "60",
    )
    assert updated["refresh_token_validity_period"] == 600
    # The refresh token already issued keeps its expiry ...
    with harness.app.app_context():
        (grant,) = harness.oauth.list_grants()
    assert grant.expires_at == START + 86400
    # ... and the next request gets the new lifetimes.
    second = harness.refresh(client, first["refresh_token"])
    assert second.json is not None
    assert second.json["refresh_token_expires_in"] == 600
    assert second.json["expires_in"] == 60


def test_update_on_the_command_line_and_inherit(harness: Harness) -> None:
    client = harness.create_client(
        refresh_token_validity_period=600, renew_refresh_token=False
    )
    updated = oauth2_json(
        harness,
        "clients",
        "update",
        client.client_id,
        "--name",
        "mobile",
        "--grant-type",
        "password",
        "--scope",
        "PRODUCTION",
        "--redirect-uri",
        "https://m.example/cb",
        "--renew",
        "--inherit",
        "refresh_token_validity_period",
    )
    assert updated["name"] == "mobile"
    assert updated["grant_types"] == ["password"]
    assert updated["scope"] == "PRODUCTION"
    assert updated["redirect_uris"] == ["https://m.example/cb"]
    assert updated["renew_refresh_token"] is True
    assert updated["refresh_token_validity_period"] is None
    text = oauth2_cli(harness, "clients", "update", client.client_id, "--name", "x")
    assert text.exit_code == 0
    assert "name:" in text.stdout and " x\n" in text.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "nothing to change"),
        (
            (
                "--grace-period",
                "5",
                "--inherit",
                "refresh_token_grace_period",
            ),
            "both given and inherited",
        ),
        (("--access-token-validity-period", "0"), "access_token_validity_period"),
        (("--scope", "ADMIN"), "ADMIN"),
        (("--inherit", "colour"), "colour"),
    ],
)
def test_refused_updates_change_nothing(
    make_harness: Callable[..., Harness], args: tuple[str, ...], message: str
) -> None:
    h = make_harness(OAUTH2_SCOPES_SUPPORTED=["PRODUCTION", "SANDBOX"])
    client = h.create_client()
    before = show(h, client.client_id)
    result = oauth2_cli(h, "clients", "update", client.client_id, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert show(h, client.client_id) == before


@pytest.mark.parametrize(
    "changes",
    [
        {"public": True},
        {"grant_types": ["implicit"]},
        {"refresh_token_validity_period": "ten"},
        {"renew_refresh_token": 1},
        {"name": 42},
        {"colour": "blue"},
    ],
)
def test_python_update_refuses_bad_changes(
    harness: Harness, changes: dict[str, object]
) -> None:
    client = harness.create_client()
    before = show(harness, client.client_id)
    with harness.app.app_context(), pytest.raises(ClientRegistrationError):
        harness.oauth.update_client(client.client_id, **changes)
    assert show(harness, client.client_id) == before


def test_a_public_client_cannot_gain_client_credentials(harness: Harness) -> None:
    client = harness.create_client(public=True)
    with harness.app.app_context(), pytest.raises(ClientRegistrationError):
        harness.oauth.update_client(
            client.client_id, grant_types=["client_credentials"]
        )


# -- secret rotation -----------------------------------------------------------


def test_rotation_without_overlap_stops_the_old_secret_at_once(
    harness: Harness,
) -> None:
    client = harness.create_client()
    assert client.client_secret is not None
    with harness.app.app_context():
        rotated = harness.oauth.rotate_client_secret(client.client_id)
    assert rotated.client_id == client.client_id
    assert rotated.client_secret not in (None, client.client_secret)
    assert rotated.client_secret is not None
    assert password_with_basic(harness, client.client_id, client.client_secret) == 401
    assert password_with_post(harness, client.client_id, client.client_secret) == 400
    assert password_with_basic(harness, client.client_id, rotated.client_secret) == 200
    assert password_with_post(harness, client.client_id, rotated.client_secret) == 200
    assert show(harness, client.client_id).previous_secret_expires_at is None


def test_the_old_secret_works_until_the_window_ends_and_not_after(
    harness: Harness,
) -> None:
    """Keycloak-style secret rotation: both secrets work during the overlap,
    at every endpoint that authenticates clients."""
    client = harness.create_client()
    old = client.client_secret
    assert old is not None
    result = oauth2_json(
        harness, "clients", "rotate-secret", client.client_id, "--keep-old-for", "60"
    )
    assert set(result) == {"client_id", "client_secret"}
    assert result["client_id"] == client.client_id
    new = result["client_secret"]
    shown = oauth2_json(harness, "clients", "show", client.client_id)
    assert shown["previous_secret_expires_at"] == START + 60

    harness.clock.advance(59)
    assert password_with_basic(harness, client.client_id, old) == 200
    assert password_with_post(harness, client.client_id, old) == 200
    tokens = harness.password_grant(ClientCredentials(client.client_id, old)).json
    assert tokens is not None
    refreshed = harness.refresh(
        ClientCredentials(client.client_id, new), tokens["refresh_token"]
    )
    assert refreshed.status_code == 200

    harness.clock.advance(1)
    assert password_with_basic(harness, client.client_id, old) == 401
    assert password_with_post(harness, client.client_id, old) == 400
    revoke = harness.client.post(
        "/oauth2/revoke",
        data={"token": tokens["access_token"]},
        headers={"Authorization": basic_auth(client.client_id, old)},
    )
    assert revoke.status_code == 401
    assert password_with_basic(harness, client.client_id, new) == 200
    assert show(harness, client.client_id).previous_secret_expires_at is None


def test_a_second_rotation_keeps_only_the_latest_old_secret(harness: Harness) -> None:
    client = harness.create_client()
    assert client.client_secret is not None
    with harness.app.app_context():
        second = harness.oauth.rotate_client_secret(client.client_id, keep_old_for=60)
        third = harness.oauth.rotate_client_secret(client.client_id, keep_old_for=60)
    assert second.client_secret is not None and third.client_secret is not None
    assert password_with_basic(harness, client.client_id, client.client_secret) == 401
    assert password_with_basic(harness, client.client_id, second.client_secret) == 200
    assert password_with_basic(harness, client.client_id, third.client_secret) == 200


def test_rotation_plain_output(harness: Harness) -> None:
    client = harness.create_client()
    result = oauth2_cli(
        harness, "clients", "rotate-secret", client.client_id, "--keep-old-for", "30"
    )
    assert result.exit_code == 0
    assert "client_secret:" in result.stdout
    assert "keeps working for 30 seconds" in result.stdout


def test_rotation_refusals(harness: Harness) -> None:
    public = harness.create_client(public=True)
    confidential = harness.create_client()
    with harness.app.app_context():
        with pytest.raises(ClientRegistrationError, match="public"):
            harness.oauth.rotate_client_secret(public.client_id)
        with pytest.raises(ClientRegistrationError, match="keep_old_for"):
            harness.oauth.rotate_client_secret(confidential.client_id, keep_old_for=-1)
    result = oauth2_cli(harness, "clients", "rotate-secret", public.client_id)
    assert result.exit_code == 2
    assert "public" in result.stderr
    negative = oauth2_cli(
        harness,
        "clients",
        "rotate-secret",
        confidential.client_id,
        "--keep-old-for",
        "-5",
    )
    assert negative.exit_code == 2


# -- delete --------------------------------------------------------------------


def test_delete_revokes_every_token_and_the_id_never_authenticates(
    harness: Harness,
) -> None:
    client = harness.create_client()
    other = harness.create_client()
    assert client.client_secret is not None
    first = harness.password_grant(client).json
    kept = harness.password_grant(other).json
    assert first is not None and kept is not None
    with listen_to(signals.token_revoked) as revoked:
        result = oauth2_json(harness, "clients", "delete", client.client_id)
    assert result == {"client_id": client.client_id, "revoked_tokens": 2}
    assert revoked == [
        {
            "client_id": client.client_id,
            "user_id": None,
            "family_id": None,
            "reason": "client_deleted",
        }
    ]
    assert ping(harness, first["access_token"]) == 401
    assert ping(harness, kept["access_token"]) == 200
    assert password_with_basic(harness, client.client_id, client.client_secret) == 401
    refused = harness.refresh(client, first["refresh_token"])
    assert refused.status_code == 401
    assert refused.json is not None and refused.json["error"] == "invalid_client"
    assert harness.refresh(other, kept["refresh_token"]).status_code == 200
    # The grant's story stays until purge.
    with harness.app.app_context():
        (grant,) = harness.oauth.list_grants(
            client_id=client.client_id, include_inactive=True
        )
        history = harness.oauth.grant_history(grant.grant_id)
        assert [r.client_id for r in harness.oauth.list_clients()] == [other.client_id]
    assert grant.status == "revoked"
    assert grant.client_name is None
    assert history.revoked_reason == "client_deleted"


def test_delete_from_python_and_as_text(harness: Harness) -> None:
    a = harness.create_client()
    b = harness.create_client()
    tokens = harness.password_grant(a).json
    assert tokens is not None
    with harness.app.app_context():
        assert harness.oauth.delete_client(a.client_id) == 2
    assert harness.refresh(a, tokens["refresh_token"]).status_code == 401
    result = oauth2_cli(harness, "clients", "delete", b.client_id)
    assert result.exit_code == 0
    assert result.stdout == f"deleted client {b.client_id}; revoked 0 tokens\n"


def test_a_deleted_clients_refresh_token_is_refused_without_oracle(
    harness: Harness,
) -> None:
    """The refresh token of a deleted client, presented by another client,
    gets the same error as any unknown token."""
    gone = harness.create_client()
    other = harness.create_client()
    tokens = harness.password_grant(gone).json
    assert tokens is not None
    with harness.app.app_context():
        harness.oauth.delete_client(gone.client_id)
    assert harness.refresh(other, tokens["refresh_token"]).json == INVALID_REFRESH


# -- unknown ids -----------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ("clients", "show"),
        ("clients", "update", "nope", "--name", "x"),
        ("clients", "rotate-secret"),
        ("clients", "delete"),
        ("clients", "show", "--json"),
        ("clients", "delete", "--json"),
    ],
)
def test_unknown_client_is_one_line_on_stderr(
    harness: Harness, command: tuple[str, ...]
) -> None:
    args = list(command)
    if "nope" not in args:
        args.insert(2, "nope")
    result = oauth2_cli(harness, *args)
    assert result.exit_code in (1, 2)
    assert result.stdout == ""
    assert result.stderr.splitlines() == ["Error: no client 'nope'"]
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_unknown_client_raises_not_found_in_python(harness: Harness) -> None:
    with harness.app.app_context():
        for call in (
            lambda: harness.oauth.get_client("nope"),
            lambda: harness.oauth.update_client("nope", name="x"),
            lambda: harness.oauth.rotate_client_secret("nope"),
            lambda: harness.oauth.delete_client("nope"),
        ):
            with pytest.raises(NotFoundError, match="no client 'nope'"):
                call()


def test_client_ids_never_look_like_options() -> None:
    """``clients show CLIENT_ID`` must not take an id for an option."""
    ids = {generate_client_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(re.fullmatch("[0-9a-f]{32}", client_id) for client_id in ids)


def test_the_cli_page_documents_every_command() -> None:
    """Each ``flask oauth2 …`` command is in the manual's command line page."""
    readme = (Path(__file__).parent.parent / "docs" / "cli.md").read_text()

    def paths(group: click.Group, prefix: str) -> list[str]:
        found = []
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                found += paths(command, f"{prefix} {name}")
            else:
                found.append(f"{prefix} {name}")
        return found

    commands = paths(oauth2_cli_group, "flask oauth2")
    assert len(commands) == 16
    assert [c for c in commands if c not in readme] == []
