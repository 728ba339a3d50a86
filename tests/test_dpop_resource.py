"""DPoP at the app's protected resources (RFC 9449 §7), in introspection
(§6.2) and in metadata (§5.1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from flask_refreshgrant import ClientCredentials

from .conftest import PING_URL, DPoPKey, Harness, basic_auth, dpop_key

PASSWORD = {"grant_type": "password", "username": "alice", "password": "wonderland"}
ALGS = 'algs="ES256 EdDSA RS256 PS256"'


def bound_tokens(h: Harness, key: DPoPKey) -> tuple[ClientCredentials, Any]:
    client = h.create_client()
    response = h.token(PASSWORD, client, headers=key.headers())
    assert response.status_code == 200, response.json
    return client, response.json


def ping(h: Harness, scheme: str, token: str, proof: str | None = None) -> Any:
    headers = {"Authorization": f"{scheme} {token}"}
    if proof is not None:
        headers["DPoP"] = proof
    return h.client.get("/api/ping", headers=headers)


def test_a_bound_token_with_its_proof_reaches_the_route(harness: Harness) -> None:
    key = dpop_key(harness)
    _, tokens = bound_tokens(harness, key)
    access = tokens["access_token"]
    response = ping(
        harness, "DPoP", access, key.proof(PING_URL, "GET", access_token=access)
    )
    assert response.status_code == 200, response.json
    assert response.json == {"user_id": "1", "scope": "PRODUCTION SANDBOX"}


def test_a_bound_token_presented_as_bearer_is_refused(harness: Harness) -> None:
    """SPEC §7.3: ``401`` with ``WWW-Authenticate: DPoP error="invalid_token"``
    and the accepted algorithms."""
    key = dpop_key(harness)
    _, tokens = bound_tokens(harness, key)
    response = ping(harness, "Bearer", tokens["access_token"])
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('DPoP error="invalid_token"')
    assert challenge.endswith(ALGS)
    assert response.json is not None and response.json["error"] == "invalid_token"


def _dpop_refusal(h: Harness, key: DPoPKey, access: str, case: str) -> Any:
    proof_of: dict[str, Callable[[], str | None]] = {
        "no proof": lambda: None,
        "wrong ath": lambda: key.proof(PING_URL, "GET", access_token="other"),
        "no ath": lambda: key.proof(PING_URL, "GET"),
        "wrong htm": lambda: key.proof(PING_URL, "POST", access_token=access),
        "wrong htu": lambda: key.proof(
            "http://localhost/api/other", "GET", access_token=access
        ),
    }
    return ping(h, "DPoP", access, proof_of[case]())


@pytest.mark.parametrize(
    ("case", "description"),
    [
        ("no proof", "A DPoP proof is required with the DPoP scheme."),
        ("wrong ath", "The ath of the DPoP proof does not match the token."),
        ("no ath", "The ath of the DPoP proof does not match the token."),
        ("wrong htm", "The htm of the DPoP proof is not this request's method."),
        ("wrong htu", "The htu of the DPoP proof is not this request's URL."),
    ],
)
def test_a_bad_proof_at_a_resource_is_a_dpop_challenge(
    harness: Harness, case: str, description: str
) -> None:
    key = dpop_key(harness)
    _, tokens = bound_tokens(harness, key)
    response = _dpop_refusal(harness, key, tokens["access_token"], case)
    assert response.status_code == 401
    assert response.json == {
        "error": "invalid_dpop_proof",
        "error_description": description,
    }
    assert response.headers["WWW-Authenticate"] == (
        f'DPoP error="invalid_dpop_proof", error_description="{description}", {ALGS}'
    )


def test_a_proof_of_another_key_or_an_unbound_token_is_invalid_token(
    harness: Harness,
) -> None:
    key = dpop_key(harness)
    _, tokens = bound_tokens(harness, key)
    access = tokens["access_token"]
    other = dpop_key(harness)
    stolen = ping(
        harness, "DPoP", access, other.proof(PING_URL, "GET", access_token=access)
    )
    assert stolen.status_code == 401
    assert stolen.headers["WWW-Authenticate"].startswith('DPoP error="invalid_token"')
    # A bearer token presented with the DPoP scheme is not bound to any key.
    bearer = harness.token(PASSWORD, harness.create_client()).json
    assert bearer is not None
    unbound = ping(
        harness,
        "DPoP",
        bearer["access_token"],
        key.proof(PING_URL, "GET", access_token=bearer["access_token"]),
    )
    assert unbound.status_code == 401
    assert unbound.json is not None and unbound.json["error"] == "invalid_token"


def test_a_proof_is_used_once_at_a_resource_too(harness: Harness) -> None:
    key = dpop_key(harness)
    _, tokens = bound_tokens(harness, key)
    access = tokens["access_token"]
    proof = key.proof(PING_URL, "GET", access_token=access)
    assert ping(harness, "DPoP", access, proof).status_code == 200
    again = ping(harness, "DPoP", access, proof)
    assert again.status_code == 401
    assert again.json is not None
    assert again.json["error_description"] == "This DPoP proof has been used before."


def test_an_expired_or_revoked_bound_token_is_invalid_token(harness: Harness) -> None:
    key = dpop_key(harness)
    client, tokens = bound_tokens(harness, key)
    access = tokens["access_token"]
    harness.clock.advance(3600)
    expired = ping(
        harness, "DPoP", access, key.proof(PING_URL, "GET", access_token=access)
    )
    assert expired.status_code == 401
    assert expired.json is not None and expired.json["error"] == "invalid_token"
    harness.clock.advance(-3600)
    revoked = harness.client.post(
        "/oauth2/revoke",
        data={"token": access},
        headers={"Authorization": basic_auth(client.client_id, client.client_secret)},
    )
    assert revoked.status_code == 200
    response = ping(
        harness, "DPoP", access, key.proof(PING_URL, "GET", access_token=access)
    )
    assert response.status_code == 401


def test_insufficient_scope_with_dpop_is_403(harness: Harness) -> None:
    key = dpop_key(harness)
    client = harness.create_client()
    data = {**PASSWORD, "scope": "SANDBOX"}
    tokens = harness.token(data, client, headers=key.headers()).json
    assert tokens is not None
    access = tokens["access_token"]
    response = ping(
        harness, "DPoP", access, key.proof(PING_URL, "GET", access_token=access)
    )
    assert response.status_code == 403


def test_bearer_challenges_offer_dpop_too(harness: Harness) -> None:
    """RFC 9449 §7.1: a resource that accepts both schemes says so."""
    missing = harness.client.get("/api/ping")
    assert missing.status_code == 401
    assert missing.headers.getlist("WWW-Authenticate") == ["Bearer", f"DPoP {ALGS}"]
    unknown = ping(harness, "Bearer", "nope")
    assert unknown.headers.getlist("WWW-Authenticate")[1] == f"DPoP {ALGS}"


def test_dpop_off_the_header_is_ignored_and_nothing_is_advertised(
    make_harness: Callable[..., Harness],
) -> None:
    """An empty OAUTH2_DPOP_SIGNING_ALG_VALUES turns DPoP off: proofs are
    ignored (bearer tokens, as RFC 9449 §5 lets a server do) and metadata
    and challenges say nothing of DPoP."""
    h = make_harness(OAUTH2_DPOP_SIGNING_ALG_VALUES=[])
    h.create_user()
    key = dpop_key(h)
    body = h.token(PASSWORD, h.create_client(), headers=key.headers()).json
    assert body is not None and body["token_type"] == "Bearer"
    metadata = h.client.get("/.well-known/oauth-authorization-server").json
    assert metadata is not None
    assert "dpop_signing_alg_values_supported" not in metadata
    missing = h.client.get("/api/ping")
    assert missing.headers.getlist("WWW-Authenticate") == ["Bearer"]
    dpop_scheme = ping(h, "DPoP", body["access_token"], key.proof(PING_URL, "GET"))
    assert dpop_scheme.status_code == 401


def test_metadata_lists_the_algorithms(harness: Harness) -> None:
    metadata = harness.client.get("/.well-known/oauth-authorization-server").json
    assert metadata is not None
    assert metadata["dpop_signing_alg_values_supported"] == [
        "ES256",
        "EdDSA",
        "RS256",
        "PS256",
    ]


def introspect(h: Harness, client: ClientCredentials, token: str) -> Any:
    response = h.client.post(
        "/oauth2/introspect",
        data={"token": token},
        headers={"Authorization": basic_auth(client.client_id, client.client_secret)},
    )
    assert response.status_code == 200
    return response.json


def test_introspection_reports_the_binding(harness: Harness) -> None:
    """RFC 9449 §6.2: ``cnf.jkt``, and ``token_type: DPoP``."""
    key = dpop_key(harness)
    client, tokens = bound_tokens(harness, key)
    body = introspect(harness, client, tokens["access_token"])
    assert body["active"] is True
    assert body["token_type"] == "DPoP"
    assert body["cnf"] == {"jkt": key.jkt}
    # The confidential client's refresh token is not bound: no cnf.
    refresh = introspect(harness, client, tokens["refresh_token"])
    assert refresh["active"] is True and "cnf" not in refresh
    bearer = harness.token(PASSWORD, client).json
    assert bearer is not None
    plain = introspect(harness, client, bearer["access_token"])
    assert plain["token_type"] == "Bearer" and "cnf" not in plain
