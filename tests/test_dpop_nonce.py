"""Server nonces (RFC 9449 §8, §9) with ``OAUTH2_DPOP_REQUIRE_NONCE``:
stateless, derived from ``SECRET_KEY`` and the time window."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from werkzeug.test import TestResponse

from flask_refreshgrant.dpop.nonces import NONCE_WINDOW

from .conftest import PING_URL, Harness, dpop_key, refresh_row

PASSWORD = {"grant_type": "password", "username": "alice", "password": "wonderland"}


@pytest.fixture
def noncing(make_harness: Callable[..., Harness]) -> Harness:
    h = make_harness(OAUTH2_DPOP_REQUIRE_NONCE=True)
    h.create_user()
    return h


def test_a_proof_without_the_nonce_gets_use_dpop_nonce(noncing: Harness) -> None:
    """RFC 9449 §8: ``400 use_dpop_nonce`` with the nonce in ``DPoP-Nonce``;
    the retry with it succeeds and needs no new nonce."""
    client = noncing.create_client()
    key = dpop_key(noncing)
    refused = noncing.token(PASSWORD, client, headers=key.headers())
    assert refused.status_code == 400
    assert refused.json == {
        "error": "use_dpop_nonce",
        "error_description": "A DPoP proof with the server's nonce is required.",
    }
    nonce = refused.headers["DPoP-Nonce"]
    ok = noncing.token(PASSWORD, client, headers=key.headers(nonce=nonce))
    assert ok.status_code == 200, ok.json
    assert "DPoP-Nonce" not in ok.headers
    wrong = noncing.token(PASSWORD, client, headers=key.headers(nonce="x" + nonce))
    assert wrong.status_code == 400
    assert wrong.headers["DPoP-Nonce"] == nonce


def test_a_refresh_refused_for_its_nonce_consumes_nothing(noncing: Harness) -> None:
    client = noncing.create_client(public=True)
    key = dpop_key(noncing)
    nonce = noncing.token(PASSWORD, client, headers=key.headers()).headers["DPoP-Nonce"]
    token = noncing.token(PASSWORD, client, headers=key.headers(nonce=nonce)).json
    assert token is not None
    before = refresh_row(noncing, token["refresh_token"])
    data = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    refused = noncing.token(data, client, headers=key.headers())
    assert refused.json is not None and refused.json["error"] == "use_dpop_nonce"
    assert refresh_row(noncing, token["refresh_token"]) == before
    assert (
        noncing.token(data, client, headers=key.headers(nonce=nonce)).status_code == 200
    )


def test_a_nonce_lives_one_more_window_and_is_renewed_on_success(
    noncing: Harness,
) -> None:
    """The nonce of the previous window is still accepted, and the success
    response hands over the current one; two windows later it is refused."""
    client = noncing.create_client()
    key = dpop_key(noncing)
    first = noncing.token(PASSWORD, client, headers=key.headers())
    nonce = first.headers["DPoP-Nonce"]
    noncing.clock.advance(NONCE_WINDOW)
    rolled = noncing.token(PASSWORD, client, headers=key.headers(nonce=nonce))
    assert rolled.status_code == 200, rolled.json
    newer = rolled.headers["DPoP-Nonce"]
    assert newer != nonce
    noncing.clock.advance(NONCE_WINDOW)
    stale = noncing.token(PASSWORD, client, headers=key.headers(nonce=nonce))
    assert stale.status_code == 400
    newest = stale.headers["DPoP-Nonce"]
    assert newest not in (nonce, newer)
    ok = noncing.token(PASSWORD, client, headers=key.headers(nonce=newer))
    assert ok.status_code == 200
    assert ok.headers["DPoP-Nonce"] == newest


def test_every_instance_accepts_every_others_nonces(
    make_harness: Callable[..., Harness],
) -> None:
    """Two apps (instances) with one ``SECRET_KEY`` and one database: no
    state to share but the key."""
    one = make_harness(OAUTH2_DPOP_REQUIRE_NONCE=True)
    two = make_harness(OAUTH2_DPOP_REQUIRE_NONCE=True)
    one.create_user()
    client = one.create_client()
    key = dpop_key(one)
    nonce = one.token(PASSWORD, client, headers=key.headers()).headers["DPoP-Nonce"]
    response = two.token(PASSWORD, client, headers=key.headers(nonce=nonce))
    assert response.status_code == 200, response.json
    other_key = make_harness(
        OAUTH2_DPOP_REQUIRE_NONCE=True, SECRET_KEY="another secret"
    )
    foreign = other_key.token(PASSWORD, client, headers=key.headers(nonce=nonce))
    assert foreign.json is not None and foreign.json["error"] == "use_dpop_nonce"


def test_resources_require_the_nonce_too(noncing: Harness) -> None:
    """RFC 9449 §9: ``401`` with ``WWW-Authenticate: DPoP
    error="use_dpop_nonce"`` and ``DPoP-Nonce``."""
    client = noncing.create_client()
    key = dpop_key(noncing)
    nonce = noncing.token(PASSWORD, client, headers=key.headers()).headers["DPoP-Nonce"]
    tokens = noncing.token(PASSWORD, client, headers=key.headers(nonce=nonce)).json
    assert tokens is not None
    access = tokens["access_token"]

    def ping(nonce: str | None) -> TestResponse:
        proof = key.proof(PING_URL, "GET", access_token=access, nonce=nonce)
        return noncing.client.get(
            "/api/ping", headers={"Authorization": f"DPoP {access}", "DPoP": proof}
        )

    refused = ping(None)
    assert refused.status_code == 401
    challenge = refused.headers["WWW-Authenticate"]
    assert challenge.startswith('DPoP error="use_dpop_nonce"')
    assert refused.headers["DPoP-Nonce"] == nonce
    assert ping(nonce).status_code == 200
    noncing.clock.advance(NONCE_WINDOW)
    rolled = ping(nonce)
    assert rolled.status_code == 200
    assert rolled.headers["DPoP-Nonce"] != nonce
