"""Reuse detection (RFC 9700 §4.14.2) and the signals apps audit with."""

from __future__ import annotations

from collections.abc import Callable

from flask_refreshgrant import signals

from .conftest import Harness, listen_to


def test_reusing_a_rotated_token_revokes_the_whole_family(harness: Harness) -> None:
    client = harness.create_client()
    first = harness.password_grant(client).json
    assert first is not None
    second = harness.refresh(client, first["refresh_token"]).json
    assert second is not None
    access = {"Authorization": "Bearer " + second["access_token"]}
    assert harness.client.get("/api/ping", headers=access).status_code == 200

    with listen_to(signals.refresh_token_reuse_detected) as calls:
        reused = harness.refresh(client, first["refresh_token"])
    assert reused.status_code == 400
    assert reused.json is not None
    assert reused.json["error"] == "invalid_grant"
    assert len(calls) == 1
    assert calls[0]["client_id"] == client.client_id
    assert calls[0]["user_id"] == "1"

    # The legitimate-looking successor and its access token are dead too.
    assert harness.refresh(client, second["refresh_token"]).status_code == 400
    denied = harness.client.get("/api/ping", headers=access)
    assert denied.status_code == 401
    assert 'error="invalid_token"' in denied.headers["WWW-Authenticate"]


def test_reuse_detection_off_only_refuses(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(OAUTH2_REFRESH_TOKEN_REUSE_DETECTION=False)
    h.create_user()
    client = h.create_client()
    first = h.password_grant(client).json
    assert first is not None
    second = h.refresh(client, first["refresh_token"]).json
    assert second is not None
    with listen_to(signals.refresh_token_reuse_detected) as calls:
        assert h.refresh(client, first["refresh_token"]).status_code == 400
    assert calls == []
    assert h.refresh(client, second["refresh_token"]).status_code == 200


def test_issued_and_rotated_signals(harness: Harness) -> None:
    client = harness.create_client()
    with listen_to(signals.token_issued) as issued:
        first = harness.password_grant(client).json
        assert first is not None
        with listen_to(signals.refresh_token_rotated) as rotated:
            harness.refresh(client, first["refresh_token"])
    assert [c["grant_type"] for c in issued] == ["password", "refresh_token"]
    assert issued[0]["family_id"] == issued[1]["family_id"] is not None
    assert len(rotated) == 1
    assert rotated[0]["family_id"] == issued[0]["family_id"]
    assert rotated[0]["client_id"] == client.client_id
