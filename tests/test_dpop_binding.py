"""What a DPoP key binds (RFC 9449 §5, §10): a public client's refresh token
family, a code requested with ``dpop_jkt``, and every token request of a
client registered with ``dpop_bound_access_tokens``; refused uses consume
nothing, grace replays and reuse detection need the key too."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from flask_refreshgrant import ClientCredentials

from .conftest import (
    DPOP_REDIRECT,
    INVALID_REFRESH,
    DPoPKey,
    Harness,
    authorize,
    dpop_key,
    redirect_query,
    refresh_row,
)

PASSWORD = {"grant_type": "password", "username": "alice", "password": "wonderland"}


def grant(h: Harness, client: ClientCredentials, key: DPoPKey | None) -> Any:
    response = h.token(PASSWORD, client, headers={} if key is None else key.headers())
    assert response.status_code == 200, response.json
    return response.json


def refresh(
    h: Harness, client: ClientCredentials, token: str, key: DPoPKey | None
) -> Any:
    data = {"grant_type": "refresh_token", "refresh_token": token}
    return h.token(data, client, headers={} if key is None else key.headers())


# -- refresh tokens of public clients -------------------------------------------


@pytest.mark.parametrize("presented", ["no proof", "another key"])
def test_a_bound_refresh_token_needs_its_key_and_consumes_nothing(
    harness: Harness, presented: str
) -> None:
    """RFC 9449 §5: the refresh request must prove the bound key; without it
    the answer is the one body of every unusable refresh token (no oracle),
    and the token is as it was."""
    client = harness.create_client(public=True)
    key = dpop_key(harness)
    body = grant(harness, client, key)
    before = refresh_row(harness, body["refresh_token"])
    other = None if presented == "no proof" else dpop_key(harness)
    response = refresh(harness, client, body["refresh_token"], other)
    assert response.status_code == 400
    assert response.json == INVALID_REFRESH
    assert refresh_row(harness, body["refresh_token"]) == before
    assert refresh(harness, client, body["refresh_token"], key).status_code == 200


def test_a_bound_family_keeps_its_key_across_rotations(harness: Harness) -> None:
    client = harness.create_client(public=True)
    key = dpop_key(harness)
    token = grant(harness, client, key)["refresh_token"]
    for _ in range(3):
        response = refresh(harness, client, token, key)
        assert response.status_code == 200, response.json
        assert response.json is not None
        assert response.json["token_type"] == "DPoP"
        assert response.json["refresh_token"] != token
        token = response.json["refresh_token"]
        assert refresh_row(harness, token)["dpop_jkt"] == key.jkt
    assert refresh(harness, client, token, dpop_key(harness)).json == INVALID_REFRESH


def test_a_bound_refresh_token_follows_the_renew_flag(harness: Harness) -> None:
    """RFC 9700 §2.2.2: a sender-constrained refresh token need not rotate,
    so renewal off returns the same one, even to a public client."""
    client = harness.create_client(public=True, renew_refresh_token=False)
    key = dpop_key(harness)
    token = grant(harness, client, key)["refresh_token"]
    for _ in range(2):
        response = refresh(harness, client, token, key)
        assert response.status_code == 200, response.json
        assert response.json is not None
        assert response.json["refresh_token"] == token
        assert response.json["token_type"] == "DPoP"
    assert refresh_row(harness, token)["rotated_at"] is None


def test_an_unbound_public_client_still_always_rotates(harness: Harness) -> None:
    client = harness.create_client(public=True, renew_refresh_token=False)
    token = grant(harness, client, None)["refresh_token"]
    response = refresh(harness, client, token, None)
    assert response.json is not None
    assert response.json["refresh_token"] != token
    assert response.json["token_type"] == "Bearer"


def test_a_proof_at_refresh_does_not_bind_an_unbound_family(
    harness: Harness,
) -> None:
    """The binding is the family's from its start: a later proof binds that
    request's access token only."""
    client = harness.create_client(public=True)
    token = grant(harness, client, None)["refresh_token"]
    response = refresh(harness, client, token, dpop_key(harness))
    assert response.json is not None
    assert response.json["token_type"] == "DPoP"
    assert refresh_row(harness, response.json["refresh_token"])["dpop_jkt"] is None
    assert (
        refresh(harness, client, response.json["refresh_token"], None).status_code
        == 200
    )


def test_a_confidential_clients_refresh_token_is_not_bound(harness: Harness) -> None:
    """RFC 9449 §5: its refresh token is bound to its credentials already;
    each refresh's access token is bound to that request's key, if any."""
    client = harness.create_client()
    token = grant(harness, client, dpop_key(harness))["refresh_token"]
    other = refresh(harness, client, token, dpop_key(harness))
    assert other.json is not None and other.json["token_type"] == "DPoP"
    bearer = refresh(harness, client, other.json["refresh_token"], None)
    assert bearer.json is not None and bearer.json["token_type"] == "Bearer"


# -- grace replays and reuse detection of bound tokens ----------------------------


def test_a_grace_replay_of_a_bound_token_needs_the_key(
    make_harness: Callable[..., Harness],
) -> None:
    """The retry of a lost response gets the identical response with a new
    proof of the key; without the key it gets nothing and revokes nothing."""
    h = make_harness(OAUTH2_REFRESH_TOKEN_GRACE_PERIOD=30)
    h.create_user()
    client = h.create_client(public=True)
    key = dpop_key(h)
    original = grant(h, client, key)["refresh_token"]
    first = refresh(h, client, original, key)
    assert first.status_code == 200
    h.clock.advance(5)
    assert refresh(h, client, original, None).json == INVALID_REFRESH
    assert refresh(h, client, original, dpop_key(h)).json == INVALID_REFRESH
    retry = refresh(h, client, original, key)
    assert retry.status_code == 200, retry.json
    assert first.json is not None and retry.json is not None
    assert retry.json["access_token"] == first.json["access_token"]
    assert retry.json["refresh_token"] == first.json["refresh_token"]
    assert retry.json["token_type"] == "DPoP"
    # The successor still works: nothing was revoked by the keyless tries.
    assert refresh(h, client, first.json["refresh_token"], key).status_code == 200


def test_reuse_of_a_bound_token_revokes_the_family_only_with_the_key(
    harness: Harness,
) -> None:
    """RFC 9700 §4.14.2 for bound tokens: a rotated-out token presented
    without its key is refused and revokes nothing (whoever holds it cannot
    use it); presented with the key, it is reuse and ends the grant."""
    client = harness.create_client(public=True)
    key = dpop_key(harness)
    original = grant(harness, client, key)["refresh_token"]
    successor = refresh(harness, client, original, key).json["refresh_token"]
    assert refresh(harness, client, original, None).json == INVALID_REFRESH
    assert refresh(harness, client, original, dpop_key(harness)).json == INVALID_REFRESH
    assert refresh_row(harness, successor)["revoked_at"] is None
    assert refresh(harness, client, original, key).json == INVALID_REFRESH
    assert refresh_row(harness, successor)["revoked_at"] is not None
    assert refresh(harness, client, successor, key).json == INVALID_REFRESH


# -- dpop_bound_access_tokens ------------------------------------------------------


def test_a_dpop_bound_client_must_send_a_proof(harness: Harness) -> None:
    """RFC 9449 §5.2: ``dpop_bound_access_tokens`` means a proof with every
    token request; without one the request is refused and consumes nothing."""
    client = harness.create_client(dpop_bound_access_tokens=True)
    response = harness.token(PASSWORD, client)
    assert response.status_code == 400
    assert response.json == {
        "error": "invalid_dpop_proof",
        "error_description": "This client must send a DPoP proof.",
    }
    token = grant(harness, client, dpop_key(harness))["refresh_token"]
    before = refresh_row(harness, token)
    assert refresh(harness, client, token, None).json == {
        "error": "invalid_dpop_proof",
        "error_description": "This client must send a DPoP proof.",
    }
    assert refresh_row(harness, token) == before
    assert refresh(harness, client, token, dpop_key(harness)).status_code == 200


def test_every_client_can_be_dpop_bound_app_wide(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(OAUTH2_DPOP_BOUND_ACCESS_TOKENS=True)
    h.create_user()
    assert h.token(PASSWORD, h.create_client()).status_code == 400
    exempt = h.create_client(dpop_bound_access_tokens=False)
    assert h.token(PASSWORD, exempt).status_code == 200


def test_create_client_dpop_bound_option(harness: Harness) -> None:
    """SPEC §7.1: ``--dpop-bound`` sets the client column of that name."""
    runner = harness.app.test_cli_runner()
    result = runner.invoke(
        args=[
            "oauth2",
            "create-client",
            "--name",
            "spa",
            "--grant-type",
            "password",
            "--dpop-bound",
            "--json",
        ]
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    client = ClientCredentials(created["client_id"], created["client_secret"])
    assert harness.token(PASSWORD, client).status_code == 400
    assert grant(harness, client, dpop_key(harness))["token_type"] == "DPoP"


# -- codes bound with dpop_jkt (RFC 9449 §10) ----------------------------------------


def code_client(h: Harness, **kwargs: Any) -> ClientCredentials:
    return h.create_client(
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris=[DPOP_REDIRECT],
        public=True,
        **kwargs,
    )


def exchange(
    h: Harness, client: ClientCredentials, code: str, verifier: str, key: DPoPKey | None
) -> Any:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": DPOP_REDIRECT,
        "code_verifier": verifier,
    }
    return h.token(data, client, headers={} if key is None else key.headers())


def test_a_code_requested_with_dpop_jkt_needs_that_key(harness: Harness) -> None:
    client = code_client(harness)
    key = dpop_key(harness)
    response, verifier = authorize(harness, client, dpop_jkt=key.jkt)
    code = redirect_query(response)["code"]
    refused = {
        "error": "invalid_grant",
        "error_description": "The authorization code is bound to another DPoP key.",
    }
    assert exchange(harness, client, code, verifier, None).json == refused
    assert exchange(harness, client, code, verifier, dpop_key(harness)).json == refused
    # Nothing consumed: the code still buys tokens, bound to the key.
    ok = exchange(harness, client, code, verifier, key)
    assert ok.status_code == 200, ok.json
    assert ok.json is not None and ok.json["token_type"] == "DPoP"
    assert refresh_row(harness, ok.json["refresh_token"])["dpop_jkt"] == key.jkt


def test_a_reused_bound_code_revokes_only_when_presented_with_the_key(
    harness: Harness,
) -> None:
    client = code_client(harness)
    key = dpop_key(harness)
    response, verifier = authorize(harness, client, dpop_jkt=key.jkt)
    code = redirect_query(response)["code"]
    tokens = exchange(harness, client, code, verifier, key).json
    assert exchange(harness, client, code, verifier, None).status_code == 400
    assert refresh_row(harness, tokens["refresh_token"])["revoked_at"] is None
    again = exchange(harness, client, code, verifier, key)
    assert again.json == {
        "error": "invalid_grant",
        "error_description": "The authorization code has been used.",
    }
    assert refresh_row(harness, tokens["refresh_token"])["revoked_at"] is not None


def test_a_code_without_dpop_jkt_binds_to_the_exchange_proof(harness: Harness) -> None:
    client = code_client(harness)
    key = dpop_key(harness)
    response, verifier = authorize(harness, client)
    ok = exchange(harness, client, redirect_query(response)["code"], verifier, key)
    assert ok.json is not None
    assert refresh_row(harness, ok.json["refresh_token"])["dpop_jkt"] == key.jkt


@pytest.mark.parametrize("value", ["short", "x" * 43 + "=", "a b" * 15])
def test_a_malformed_dpop_jkt_is_invalid_request(harness: Harness, value: str) -> None:
    client = code_client(harness)
    response, _ = authorize(harness, client, dpop_jkt=value)
    params = redirect_query(response)
    assert params["error"] == "invalid_request"
    assert params["state"] == "xyz"
    assert "code" not in params


def test_with_dpop_off_dpop_jkt_is_ignored(
    make_harness: Callable[..., Harness],
) -> None:
    """An unknown parameter to a server without DPoP: the code is not bound
    (it could never be redeemed otherwise), and tokens are bearer tokens."""
    h = make_harness(OAUTH2_DPOP_SIGNING_ALG_VALUES=[])
    h.create_user()
    client = code_client(h)
    response, verifier = authorize(h, client, dpop_jkt="not a thumbprint")
    ok = exchange(h, client, redirect_query(response)["code"], verifier, None)
    assert ok.status_code == 200, ok.json
    assert ok.json is not None and ok.json["token_type"] == "Bearer"
