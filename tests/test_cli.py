"""``flask oauth2 create-client``, and using the clients it creates."""

from __future__ import annotations

import json
from collections.abc import Callable

from flask_refreshgrant import ClientCredentials

from .conftest import Harness


def create_client(h: Harness, *args: str) -> ClientCredentials:
    result = h.app.test_cli_runner().invoke(
        args=["oauth2", "create-client", *args, "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"client_id", "client_secret"}
    return ClientCredentials(
        client_id=data["client_id"], client_secret=data["client_secret"]
    )


def test_create_client_prints_a_secret_that_works(harness: Harness) -> None:
    client = create_client(
        harness,
        "--name",
        "svc",
        "--grant-type",
        "password",
        "--grant-type",
        "refresh_token",
        "--scope",
        "PRODUCTION SANDBOX",
    )
    assert client.client_secret and len(client.client_secret) >= 43
    response = harness.password_grant(client)
    assert response.status_code == 200
    assert response.json is not None
    assert harness.refresh(client, response.json["refresh_token"]).status_code == 200


def test_plain_output_shows_id_and_secret_once(harness: Harness) -> None:
    result = harness.app.test_cli_runner().invoke(
        args=["oauth2", "create-client", "--name", "x", "--grant-type", "password"]
    )
    assert result.exit_code == 0, result.output
    assert "client_id:" in result.output
    assert "client_secret:" in result.output
    assert "cannot be shown again" in result.output


def test_public_client_has_no_secret(harness: Harness) -> None:
    client = create_client(
        harness,
        "--name",
        "spa",
        "--public",
        "--grant-type",
        "password",
        "--grant-type",
        "refresh_token",
        "--scope",
        "PRODUCTION",
    )
    assert client.client_secret is None
    response = harness.password_grant(client, scope="PRODUCTION")
    assert response.status_code == 200


def test_validity_period_and_no_renew(harness: Harness) -> None:
    client = create_client(
        harness,
        "--name",
        "legacy",
        "--grant-type",
        "password",
        "--grant-type",
        "refresh_token",
        "--scope",
        "PRODUCTION",
        "--refresh-token-validity-period",
        "120",
        "--no-renew",
    )
    first = harness.password_grant(client, scope="PRODUCTION").json
    assert first is not None
    assert first["refresh_token_expires_in"] == 120
    second = harness.refresh(client, first["refresh_token"]).json
    assert second is not None
    assert second["refresh_token"] == first["refresh_token"]


def test_unknown_grant_type_and_unsupported_scope_are_refused(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(OAUTH2_SCOPES_SUPPORTED=["PRODUCTION"])
    runner = h.app.test_cli_runner()
    bad_grant = runner.invoke(
        args=["oauth2", "create-client", "--name", "x", "--grant-type", "implicit"]
    )
    assert bad_grant.exit_code != 0
    bad_scope = runner.invoke(
        args=[
            "oauth2",
            "create-client",
            "--name",
            "x",
            "--grant-type",
            "password",
            "--scope",
            "ADMIN",
        ]
    )
    assert bad_scope.exit_code != 0
    assert "ADMIN" in bad_scope.output


def test_public_client_cannot_have_client_credentials(harness: Harness) -> None:
    result = harness.app.test_cli_runner().invoke(
        args=[
            "oauth2",
            "create-client",
            "--name",
            "x",
            "--public",
            "--grant-type",
            "client_credentials",
        ]
    )
    assert result.exit_code != 0
    assert "client_credentials" in result.output
