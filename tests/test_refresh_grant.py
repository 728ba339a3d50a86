"""The refresh token grant (RFC 6749 §6) with WSO2's two settings, expiry,
scope rules and client binding — on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_refreshgrant import ClientCredentials

from .conftest import INVALID_REFRESH, START, Harness, refresh_row


def first_tokens(
    h: Harness, client: ClientCredentials, scope: str | None = None
) -> dict[str, Any]:
    response = h.password_grant(client, **({} if scope is None else {"scope": scope}))
    assert response.status_code == 200, response.json
    assert isinstance(response.json, dict)
    return response.json


# -- renewal on (the default) -------------------------------------------------


def test_refresh_rotates_and_old_token_is_inactive_at_once(harness: Harness) -> None:
    client = harness.create_client()
    first = first_tokens(harness, client)
    harness.clock.advance(100)

    response = harness.refresh(client, first["refresh_token"])
    assert response.status_code == 200
    body = response.json
    assert body is not None
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["refresh_token"] != first["refresh_token"]
    assert body["access_token"] != first["access_token"]
    assert body["refresh_token_expires_in"] == 86400  # a new expiry
    assert body["scope"] == "PRODUCTION SANDBOX"

    old = refresh_row(harness, first["refresh_token"])
    new = refresh_row(harness, body["refresh_token"])
    assert old["rotated_at"] == START + 100
    assert new["parent_id"] == old["id"]
    assert new["family_id"] == old["family_id"]
    assert new["expires_at"] == START + 100 + 86400

    again = harness.refresh(client, first["refresh_token"])
    assert again.status_code == 400
    assert again.json == INVALID_REFRESH


def test_renewed_token_can_be_renewed_again(harness: Harness) -> None:
    client = harness.create_client()
    token = first_tokens(harness, client)["refresh_token"]
    seen = {token}
    for _ in range(5):
        response = harness.refresh(client, token)
        assert response.status_code == 200
        assert response.json is not None
        token = response.json["refresh_token"]
        assert token not in seen
        seen.add(token)


def test_token_response_headers(harness: Harness) -> None:
    client = harness.create_client()
    response = harness.refresh(client, first_tokens(harness, client)["refresh_token"])
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"


def test_refresh_token_expires_after_validity_period(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(OAUTH2_REFRESH_TOKEN_VALIDITY_PERIOD=60)
    h.create_user()
    client = h.create_client()
    first = first_tokens(h, client)
    assert first["refresh_token_expires_in"] == 60
    h.clock.advance(59)
    second = h.refresh(client, first["refresh_token"])
    assert second.status_code == 200
    assert second.json is not None
    h.clock.advance(60)
    expired = h.refresh(client, second.json["refresh_token"])
    assert expired.status_code == 400
    assert expired.json == INVALID_REFRESH


def test_negative_validity_never_expires(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(OAUTH2_REFRESH_TOKEN_VALIDITY_PERIOD=-1)
    h.create_user()
    client = h.create_client()
    first = first_tokens(h, client)
    assert "refresh_token_expires_in" not in first
    assert refresh_row(h, first["refresh_token"])["expires_at"] is None
    h.clock.advance(10 * 365 * 86400)
    response = h.refresh(client, first["refresh_token"])
    assert response.status_code == 200
    assert response.json is not None
    assert "refresh_token_expires_in" not in response.json


def test_extend_off_keeps_the_expiry_of_the_replaced_token(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(
        OAUTH2_REFRESH_TOKEN_VALIDITY_PERIOD=1000,
        OAUTH2_EXTEND_RENEWED_REFRESH_TOKEN_EXPIRY_TIME=False,
    )
    h.create_user()
    client = h.create_client()
    token = first_tokens(h, client)["refresh_token"]
    h.clock.advance(400)
    response = h.refresh(client, token)
    assert response.status_code == 200
    assert response.json is not None
    assert response.json["refresh_token_expires_in"] == 600
    assert refresh_row(h, response.json["refresh_token"])["expires_at"] == START + 1000
    h.clock.advance(600)
    assert h.refresh(client, response.json["refresh_token"]).status_code == 400


def test_absolute_lifetime_caps_sliding_renewals(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(
        OAUTH2_REFRESH_TOKEN_VALIDITY_PERIOD=1000,
        OAUTH2_REFRESH_TOKEN_ABSOLUTE_LIFETIME=1500,
    )
    h.create_user()
    client = h.create_client()
    token = first_tokens(h, client)["refresh_token"]
    h.clock.advance(900)
    response = h.refresh(client, token)
    assert response.json is not None
    # Sliding would give 1000 s more; the family's cap leaves 600.
    assert response.json["refresh_token_expires_in"] == 600
    h.clock.advance(599)
    response = h.refresh(client, response.json["refresh_token"])
    assert response.status_code == 200
    assert response.json is not None
    assert response.json["refresh_token_expires_in"] == 1
    h.clock.advance(1)
    assert h.refresh(client, response.json["refresh_token"]).json == INVALID_REFRESH


def test_access_token_validity_period(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(OAUTH2_ACCESS_TOKEN_VALIDITY_PERIOD=120)
    h.create_user()
    client = h.create_client()
    first = first_tokens(h, client)
    assert first["expires_in"] == 120
    response = h.refresh(client, first["refresh_token"])
    assert response.json is not None
    assert response.json["expires_in"] == 120


# -- renewal off ----------------------------------------------------------------


def test_renew_off_returns_the_same_token_untouched(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(OAUTH2_RENEW_REFRESH_TOKEN_FOR_REFRESH_GRANT=False)
    h.create_user()
    client = h.create_client()
    first = first_tokens(h, client)
    before = refresh_row(h, first["refresh_token"])
    access_tokens = {first["access_token"]}
    for elapsed in (100, 200, 300):
        h.clock.advance(100)
        response = h.refresh(client, first["refresh_token"])
        assert response.status_code == 200
        assert response.json is not None
        assert response.json["refresh_token"] == first["refresh_token"]
        assert response.json["refresh_token_expires_in"] == 86400 - elapsed
        access_tokens.add(response.json["access_token"])
    assert len(access_tokens) == 4
    assert refresh_row(h, first["refresh_token"]) == before  # not rotated, not revoked
    h.clock.advance(86400 - 300)
    assert h.refresh(client, first["refresh_token"]).json == INVALID_REFRESH


def test_public_clients_always_rotate(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(OAUTH2_RENEW_REFRESH_TOKEN_FOR_REFRESH_GRANT=False)
    h.create_user()
    client = h.create_client(public=True)
    first = first_tokens(h, client)
    response = h.refresh(client, first["refresh_token"])
    assert response.status_code == 200
    assert response.json is not None
    assert response.json["refresh_token"] != first["refresh_token"]
    assert h.refresh(client, first["refresh_token"]).json == INVALID_REFRESH


def test_per_client_overrides_beat_the_app_settings(harness: Harness) -> None:
    no_renew = harness.create_client(
        renew_refresh_token=False, refresh_token_validity_period=30
    )
    first = first_tokens(harness, no_renew)
    assert first["refresh_token_expires_in"] == 30
    response = harness.refresh(no_renew, first["refresh_token"])
    assert response.json is not None
    assert response.json["refresh_token"] == first["refresh_token"]

    default = harness.create_client()
    other = first_tokens(harness, default)
    assert other["refresh_token_expires_in"] == 86400
    renewed = harness.refresh(default, other["refresh_token"])
    assert renewed.json is not None
    assert renewed.json["refresh_token"] != other["refresh_token"]


# -- scope (RFC 6749 §6) ---------------------------------------------------------


def test_omitted_scope_means_the_original_scope(harness: Harness) -> None:
    client = harness.create_client()
    first = first_tokens(harness, client, scope="PRODUCTION")
    response = harness.refresh(client, first["refresh_token"])
    assert response.json is not None
    assert response.json["scope"] == "PRODUCTION"


def test_narrowed_scope_narrows_only_the_access_token(harness: Harness) -> None:
    client = harness.create_client()
    first = first_tokens(harness, client)
    narrowed = harness.refresh(client, first["refresh_token"], scope="PRODUCTION")
    assert narrowed.status_code == 200
    assert narrowed.json is not None
    assert narrowed.json["scope"] == "PRODUCTION"
    # The renewed refresh token keeps the original grant's scope.
    assert refresh_row(harness, narrowed.json["refresh_token"])["scope"] == (
        "PRODUCTION SANDBOX"
    )
    full = harness.refresh(
        client, narrowed.json["refresh_token"], scope="SANDBOX PRODUCTION"
    )
    assert full.status_code == 200
    assert full.json is not None
    assert set(full.json["scope"].split()) == {"PRODUCTION", "SANDBOX"}


def test_scope_beyond_the_grant_is_invalid_scope_and_consumes_nothing(
    harness: Harness,
) -> None:
    client = harness.create_client(scope="PRODUCTION SANDBOX ADMIN")
    first = first_tokens(harness, client, scope="PRODUCTION")
    wider = harness.refresh(client, first["refresh_token"], scope="PRODUCTION ADMIN")
    assert wider.status_code == 400
    assert wider.json is not None
    assert wider.json["error"] == "invalid_scope"
    still = harness.refresh(client, first["refresh_token"])
    assert still.status_code == 200


# -- client binding, users, client rights ----------------------------------------


def test_other_clients_token_is_invalid_grant_and_revokes_nothing(
    harness: Harness,
) -> None:
    owner = harness.create_client()
    thief = harness.create_client()
    first = first_tokens(harness, owner)
    rotated = harness.refresh(owner, first["refresh_token"])
    assert rotated.json is not None

    # Another client replaying the owner's stale and current tokens.
    assert harness.refresh(thief, first["refresh_token"]).json == INVALID_REFRESH
    assert harness.refresh(thief, rotated.json["refresh_token"]).json == INVALID_REFRESH
    # The owner's family is intact: reuse detection did not fire.
    assert harness.refresh(owner, rotated.json["refresh_token"]).status_code == 200


def test_unknown_and_foreign_and_rotated_tokens_get_the_same_body(
    harness: Harness,
) -> None:
    owner = harness.create_client()
    other = harness.create_client()
    first = first_tokens(harness, owner)
    assert harness.refresh(owner, first["refresh_token"]).status_code == 200
    bodies = [
        harness.refresh(owner, "no-such-token").json,
        harness.refresh(other, first["refresh_token"]).json,
        harness.refresh(owner, first["refresh_token"]).json,  # rotated out
    ]
    assert bodies == [INVALID_REFRESH] * 3


def test_user_who_no_longer_loads_is_invalid_grant(harness: Harness) -> None:
    client = harness.create_client()
    first = first_tokens(harness, client)
    harness.delete_user(1)
    response = harness.refresh(client, first["refresh_token"])
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["error"] == "invalid_grant"


def test_client_without_refresh_grant_is_unauthorized(harness: Harness) -> None:
    both = harness.create_client()
    first = first_tokens(harness, both)
    password_only = harness.create_client(grant_types=("password",))
    tokens = first_tokens(harness, password_only)
    assert "refresh_token" not in tokens  # it could never use one
    response = harness.refresh(password_only, first["refresh_token"])
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["error"] == "unauthorized_client"


def test_missing_refresh_token_parameter(harness: Harness) -> None:
    client = harness.create_client()
    response = harness.token({"grant_type": "refresh_token"}, client)
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["error"] == "invalid_request"


def test_client_secret_post_works_too(harness: Harness) -> None:
    client = harness.create_client()
    first = first_tokens(harness, client)
    response = harness.token(
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        client,
        basic=False,
    )
    assert response.status_code == 200
