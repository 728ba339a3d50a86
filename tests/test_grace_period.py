"""The retry-safe grace period: a rotated-out token presented again within the
window gets the identical response, and the grant never has two live tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from flask_refreshgrant import ConfigurationError

from .conftest import (
    INVALID_REFRESH,
    Harness,
    all_stored_text,
    basic_auth,
    refresh_row,
)


@pytest.fixture
def grace(make_harness: Callable[..., Harness]) -> Harness:
    h = make_harness(OAUTH2_REFRESH_TOKEN_GRACE_PERIOD=30)
    h.create_user()
    return h


def rotate(h: Harness) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    client = h.create_client()
    first = h.password_grant(client).json
    assert first is not None
    second = h.refresh(client, first["refresh_token"]).json
    assert second is not None
    return client, first, second


def test_retry_within_the_window_gets_the_identical_response(grace: Harness) -> None:
    client, first, second = rotate(grace)
    grace.clock.advance(10)
    retry = grace.refresh(client, first["refresh_token"])
    assert retry.status_code == 200
    assert retry.json is not None
    assert retry.json["access_token"] == second["access_token"]
    assert retry.json["refresh_token"] == second["refresh_token"]
    assert retry.json["expires_in"] == second["expires_in"] - 10
    assert (
        retry.json["refresh_token_expires_in"]
        == second["refresh_token_expires_in"] - 10
    )
    # Nothing new was issued: the successor is still the one live token.
    assert grace.refresh(client, second["refresh_token"]).status_code == 200


def test_window_closes_after_the_grace_period(grace: Harness) -> None:
    client, first, second = rotate(grace)
    grace.clock.advance(30)
    late = grace.refresh(client, first["refresh_token"])
    assert late.json == INVALID_REFRESH
    # ...and that was reuse: the family is revoked.
    assert grace.refresh(client, second["refresh_token"]).json == INVALID_REFRESH


def test_window_closes_once_the_successor_is_used(grace: Harness) -> None:
    client, first, second = rotate(grace)
    third = grace.refresh(client, second["refresh_token"])
    assert third.status_code == 200
    assert third.json is not None
    assert refresh_row(grace, first["refresh_token"])["replay"] is None
    assert grace.refresh(client, first["refresh_token"]).json == INVALID_REFRESH
    assert grace.refresh(client, third.json["refresh_token"]).json == INVALID_REFRESH


def test_no_replay_for_another_client(grace: Harness) -> None:
    client, first, second = rotate(grace)
    other = grace.create_client()
    assert grace.refresh(other, first["refresh_token"]).json == INVALID_REFRESH
    # The owner's retry still works: the foreign attempt consumed nothing.
    retry = grace.refresh(client, first["refresh_token"])
    assert retry.json is not None
    assert retry.json["refresh_token"] == second["refresh_token"]


def test_no_replay_for_a_revoked_family(grace: Harness) -> None:
    client, first, second = rotate(grace)
    third = grace.refresh(client, second["refresh_token"]).json
    assert third is not None
    assert refresh_row(grace, second["refresh_token"])["replay"] is not None
    # Reusing the first token (its successor was used) revokes the family...
    assert grace.refresh(client, first["refresh_token"]).json == INVALID_REFRESH
    # ...and then no token of it replays, even within the window.
    assert refresh_row(grace, second["refresh_token"])["replay"] is None
    assert grace.refresh(client, second["refresh_token"]).json == INVALID_REFRESH
    assert grace.refresh(client, third["refresh_token"]).json == INVALID_REFRESH


def test_replay_copy_is_encrypted(grace: Harness) -> None:
    _, first, second = rotate(grace)
    stored = refresh_row(grace, first["refresh_token"])["replay"]
    assert isinstance(stored, str) and stored
    everything = all_stored_text(grace)
    assert second["access_token"] not in everything
    assert second["refresh_token"] not in everything


def test_changed_secret_key_replays_nothing(grace: Harness) -> None:
    client, first, _ = rotate(grace)
    grace.app.config["SECRET_KEY"] = "another-key"
    assert grace.refresh(client, first["refresh_token"]).json == INVALID_REFRESH


def test_grace_zero_stores_no_replay(harness: Harness) -> None:
    _, first, _ = rotate(harness)
    assert refresh_row(harness, first["refresh_token"])["replay"] is None


def test_per_client_grace_period(harness: Harness) -> None:
    client = harness.create_client(refresh_token_grace_period=60)
    first = harness.password_grant(client).json
    assert first is not None
    second = harness.refresh(client, first["refresh_token"]).json
    assert second is not None
    retry = harness.refresh(client, first["refresh_token"]).json
    assert retry == second


def test_grace_needs_a_secret_key(make_harness: Callable[..., Harness]) -> None:
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        make_harness(OAUTH2_REFRESH_TOKEN_GRACE_PERIOD=30, SECRET_KEY=None)


def test_per_client_grace_without_secret_key_fails_cleanly(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(SECRET_KEY=None)
    h.create_user()
    client = h.create_client(refresh_token_grace_period=30)
    first = h.password_grant(client).json
    assert first is not None
    response = h.refresh(client, first["refresh_token"])
    assert response.status_code == 500
    assert response.json == {"error": "server_error"}
    # Nothing was written: the token is still the live one.
    h.app.config["SECRET_KEY"] = "now-set"
    assert h.refresh(client, first["refresh_token"]).status_code == 200


# -- a replay answers only a retry of the same request (SPEC §6) ----------------


def rotate_with_scope(h: Harness, scope: str | None) -> tuple[Any, str, dict[str, Any]]:
    client = h.create_client()
    first = h.password_grant(client).json
    assert first is not None
    second = h.refresh(client, first["refresh_token"], scope=scope).json
    assert second is not None and "access_token" in second
    return client, first["refresh_token"], second


def test_retry_asking_for_another_scope_is_reuse(grace: Harness) -> None:
    client, old, second = rotate_with_scope(grace, "PRODUCTION")
    assert grace.refresh(client, old, scope="PRODUCTION SANDBOX").json == (
        INVALID_REFRESH
    )
    # ...treated as a rotated-out token: the family is revoked.
    assert grace.refresh(client, second["refresh_token"]).json == INVALID_REFRESH


@pytest.mark.parametrize(
    ("first", "retry"),
    [
        (None, None),
        (None, ""),
        ("PRODUCTION SANDBOX", "SANDBOX PRODUCTION"),
        ("PRODUCTION", "PRODUCTION PRODUCTION"),
    ],
)
def test_retry_asking_for_the_same_scope_is_replayed(
    grace: Harness, first: str | None, retry: str | None
) -> None:
    client, old, second = rotate_with_scope(grace, first)
    assert grace.refresh(client, old, scope=retry).json == second


def test_no_replay_once_the_user_no_longer_loads(grace: Harness) -> None:
    client, old, second = rotate_with_scope(grace, None)
    grace.delete_user(1)
    assert grace.refresh(client, old).json == INVALID_REFRESH
    assert refresh_row(grace, second["refresh_token"])["revoked_at"] is not None


def test_no_replay_of_a_revoked_access_token(grace: Harness) -> None:
    client, old, second = rotate_with_scope(grace, None)
    revoked = grace.client.post(
        "/oauth2/revoke",
        data={"token": second["access_token"], "token_type_hint": "access_token"},
        headers={"Authorization": basic_auth(client.client_id, client.client_secret)},
    )
    assert revoked.status_code == 200
    assert grace.refresh(client, old).json == INVALID_REFRESH
    assert grace.refresh(client, second["refresh_token"]).json == INVALID_REFRESH


def test_no_replay_of_an_expired_access_token(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(
        OAUTH2_REFRESH_TOKEN_GRACE_PERIOD=60, OAUTH2_ACCESS_TOKEN_VALIDITY_PERIOD=20
    )
    h.create_user()
    client, old, _ = rotate_with_scope(h, None)
    h.clock.advance(19)
    assert h.refresh(client, old).status_code == 200
    h.clock.advance(1)
    assert h.refresh(client, old).json == INVALID_REFRESH
