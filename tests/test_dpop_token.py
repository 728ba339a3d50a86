"""DPoP proofs at the token endpoint (RFC 9449 §4.3, §5): every refusal with
its exact error, and nothing consumed by a refused request."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from joserfc import jws
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, OctKey, RSAKey

from flask_refreshgrant import ClientCredentials, RefreshGrant
from flask_refreshgrant.security import token_digest

from .conftest import (
    INVALID_REFRESH,
    TOKEN_URL,
    DPoPKey,
    Harness,
    dpop_key,
    refresh_row,
)


def invalid_proof(description: str) -> dict[str, str]:
    return {"error": "invalid_dpop_proof", "error_description": description}


def public_password_client(h: Harness, **settings: Any) -> ClientCredentials:
    """A public client of the password grant: its refresh tokens get bound."""
    return h.create_client(public=True, **settings)


def granted(h: Harness, client: ClientCredentials, key: DPoPKey | None) -> Any:
    """A password grant, with a proof of ``key`` if given."""
    headers = {} if key is None else key.headers()
    data = {"grant_type": "password", "username": "alice", "password": "wonderland"}
    response = h.token(data, client, headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def access_row(h: Harness, access_token: str) -> dict[str, object]:
    with h.app.app_context():
        model = RefreshGrant.state().models.access_token
        row = h.db.session.scalars(
            sa.select(model).where(model.digest == token_digest(access_token))
        ).one()
        return {c.name: getattr(row, c.key) for c in model.__table__.columns}


# -- what a valid proof buys ----------------------------------------------------


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "RS256", "PS256"])
def test_a_proof_binds_the_access_token_to_the_key(harness: Harness, alg: str) -> None:
    """RFC 9449 §5: ``token_type: DPoP``, the access token bound by the
    key's RFC 7638 thumbprint; each default algorithm works."""
    client = harness.create_client()
    key = dpop_key(harness, alg)
    body = granted(harness, client, key)
    assert body["token_type"] == "DPoP"
    assert access_row(harness, body["access_token"])["dpop_jkt"] == key.jkt
    # A confidential client's refresh token is bound to its credentials.
    assert refresh_row(harness, body["refresh_token"])["dpop_jkt"] is None


def test_without_a_proof_tokens_stay_bearer_tokens(harness: Harness) -> None:
    body = granted(harness, harness.create_client(), None)
    assert body["token_type"] == "Bearer"
    assert access_row(harness, body["access_token"])["dpop_jkt"] is None


def test_a_public_clients_refresh_token_is_bound(harness: Harness) -> None:
    client = public_password_client(harness)
    key = dpop_key(harness)
    body = granted(harness, client, key)
    assert refresh_row(harness, body["refresh_token"])["dpop_jkt"] == key.jkt


def test_client_credentials_with_a_proof(harness: Harness) -> None:
    client = harness.create_client(grant_types=("client_credentials",))
    key = dpop_key(harness)
    response = harness.token(
        {"grant_type": "client_credentials"}, client, headers=key.headers()
    )
    assert response.status_code == 200, response.json
    assert response.json is not None and response.json["token_type"] == "DPoP"


def test_ed25519_when_configured(make_harness: Callable[..., Harness]) -> None:
    """The fully-specified name of RFC 9864, if the operator lists it."""
    h = make_harness(OAUTH2_DPOP_SIGNING_ALG_VALUES=["Ed25519"])
    h.create_user()
    body = granted(h, h.create_client(), dpop_key(h, "Ed25519"))
    assert body["token_type"] == "DPoP"


def test_htu_is_compared_without_query_and_with_normalised_host(
    harness: Harness,
) -> None:
    """RFC 9449 §4.3: query and fragment do not count; scheme and host are
    case-insensitive and a default port is the same URL (RFC 3986 §6.2)."""
    client = harness.create_client()
    key = dpop_key(harness)
    for htu in (
        TOKEN_URL + "?x=1#frag",
        "HTTP://LOCALHOST/oauth2/token",
        "http://localhost:80/oauth2/token",
    ):
        headers = {"DPoP": key.proof(htu)}
        data = {"grant_type": "password", "username": "alice", "password": "wonderland"}
        response = harness.token(data, client, headers=headers)
        assert response.status_code == 200, (htu, response.json)


def test_htu_may_name_the_issuer_url(make_harness: Callable[..., Harness]) -> None:
    """Behind a proxy the client uses the metadata's URL (OAUTH2_ISSUER)."""
    h = make_harness(OAUTH2_ISSUER="https://id.example.com")
    h.create_user()
    key = dpop_key(h)
    data = {"grant_type": "password", "username": "alice", "password": "wonderland"}
    headers = {"DPoP": key.proof("https://id.example.com/oauth2/token")}
    response = h.token(data, h.create_client(), headers=headers)
    assert response.status_code == 200, response.json


# -- refusals -------------------------------------------------------------------


def small_rsa_key() -> RSAKey:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # the point of the test
        key: RSAKey = RSAKey.generate_key(1024)
    return key


#: A request's headers: a dict, or a list of pairs to repeat a header.
Headers = dict[str, str] | list[tuple[str, str]]


def _now(key: DPoPKey) -> int:
    assert key.clock is not None
    return int(key.clock())


#: Every refusal of RFC 9449 §4.3: how the proof is made from the client's
#: key, and the ``error_description`` it gets.
REFUSALS: dict[str, tuple[Callable[[DPoPKey], Headers], str]] = {
    "not a JWT": (lambda k: {"DPoP": "not-a-jwt"}, "The DPoP proof is not a JWT."),
    "two headers": (
        lambda k: [("DPoP", k.proof()), ("DPoP", k.proof())],
        "Send exactly one DPoP header.",
    ),
    "typ JWT": (
        lambda k: k.headers(header={"typ": "JWT"}),
        "The typ of a DPoP proof must be dpop+jwt.",
    ),
    "no typ": (
        lambda k: k.headers(drop=("typ",)),
        "The typ of a DPoP proof must be dpop+jwt.",
    ),
    "symmetric alg": (
        lambda k: k.headers(
            header={"alg": "HS256"}, sign_with=OctKey.generate_key(256)
        ),
        "The alg of the DPoP proof is not accepted here.",
    ),
    "unlisted alg": (
        lambda k: DPoPKey(alg="ES384", clock=k.clock).headers(),
        "The alg of the DPoP proof is not accepted here.",
    ),
    "private key in jwk": (
        lambda k: k.headers(header={"jwk": dict(k.key.as_dict(private=True))}),
        "The jwk of a DPoP proof must be a public key.",
    ),
    "symmetric jwk": (
        lambda k: k.headers(header={"jwk": {"kty": "oct", "k": "c2VjcmV0"}}),
        "The jwk of a DPoP proof must be a public key.",
    ),
    "no jwk": (
        lambda k: k.headers(drop=("jwk",)),
        "The DPoP proof has no jwk header.",
    ),
    "broken jwk": (
        lambda k: k.headers(header={"jwk": {"kty": "EC", "crv": "P-256"}}),
        "The jwk of the DPoP proof is invalid.",
    ),
    "jwk of another key type than alg": (
        lambda k: k.headers(
            header={"alg": "RS256"}, sign_with=RSAKey.generate_key(2048)
        ),
        "The jwk of the DPoP proof does not fit its alg.",
    ),
    "small RSA key": (
        lambda k: DPoPKey(alg="RS256", clock=k.clock, key=small_rsa_key()).headers(),
        "The RSA key of the DPoP proof is too small.",
    ),
    "signed by another key": (
        lambda k: {"DPoP": k.proof(sign_with=ECKey.generate_key("P-256"))},
        "The signature of the DPoP proof is invalid.",
    ),
    "no jti": (lambda k: k.headers(drop=("jti",)), "The DPoP proof needs a jti."),
    "jti not a string": (
        lambda k: k.headers(claims={"jti": 7}),
        "The DPoP proof needs a jti.",
    ),
    "htm GET": (
        lambda k: k.headers(htm="GET"),
        "The htm of the DPoP proof is not this request's method.",
    ),
    "htu of another endpoint": (
        lambda k: k.headers("http://localhost/oauth2/revoke"),
        "The htu of the DPoP proof is not this request's URL.",
    ),
    "htu of another port": (
        lambda k: k.headers("http://localhost:8080/oauth2/token"),
        "The htu of the DPoP proof is not this request's URL.",
    ),
    "htu of another scheme": (
        lambda k: k.headers("https://localhost/oauth2/token"),
        "The htu of the DPoP proof is not this request's URL.",
    ),
    "htu not a URL": (
        lambda k: k.headers(claims={"htu": 42}),
        "The htu of the DPoP proof is not this request's URL.",
    ),
    "no iat": (
        lambda k: k.headers(drop=("iat",)),
        "The DPoP proof needs a numeric iat.",
    ),
    "iat a string": (
        lambda k: k.headers(claims={"iat": str(_now(k))}),
        "The DPoP proof needs a numeric iat.",
    ),
    "iat too old": (
        lambda k: k.headers(claims={"iat": _now(k) - 61}),
        "The iat of the DPoP proof is too old or in the future.",
    ),
    "iat in the future": (
        lambda k: k.headers(claims={"iat": _now(k) + 6}),
        "The iat of the DPoP proof is too old or in the future.",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_every_refused_proof_is_invalid_dpop_proof_and_consumes_nothing(
    harness: Harness, case: str
) -> None:
    """RFC 9449 §4.3 and §5: a malformed or invalid proof is ``400
    invalid_dpop_proof``; the refresh token it came with stays as it was."""
    client = public_password_client(harness)
    key = dpop_key(harness)
    body = granted(harness, client, key)
    before = refresh_row(harness, body["refresh_token"])
    make_headers, description = REFUSALS[case]
    data = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    response = harness.token(data, client, headers=make_headers(key))
    assert response.status_code == 400
    assert response.json == invalid_proof(description)
    assert response.headers["Cache-Control"] == "no-store"
    assert refresh_row(harness, body["refresh_token"]) == before
    again = harness.token(data, client, headers=key.headers())
    assert again.status_code == 200, again.json


def test_iat_at_the_edges_of_the_window_is_accepted(harness: Harness) -> None:
    client = harness.create_client()
    key = dpop_key(harness)
    now = int(harness.clock.now)
    data = {"grant_type": "password", "username": "alice", "password": "wonderland"}
    for iat in (now - 60, now + 5):
        response = harness.token(data, client, headers=key.headers(claims={"iat": iat}))
        assert response.status_code == 200, (iat, response.json)


def test_a_proof_is_accepted_once(harness: Harness) -> None:
    """RFC 9449 §11.1: the ``jti`` replay store refuses a proof seen before,
    even with a request that is otherwise fine."""
    client = harness.create_client()
    key = dpop_key(harness)
    proof = key.proof()
    data = {"grant_type": "password", "username": "alice", "password": "wonderland"}
    first = harness.token(data, client, headers={"DPoP": proof})
    assert first.status_code == 200
    second = harness.token(data, client, headers={"DPoP": proof})
    assert second.status_code == 400
    assert second.json == invalid_proof("This DPoP proof has been used before.")


def test_the_proof_max_age_is_a_setting(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(OAUTH2_DPOP_PROOF_MAX_AGE=300)
    h.create_user()
    key = dpop_key(h)
    data = {"grant_type": "password", "username": "alice", "password": "wonderland"}
    now = int(h.clock.now)
    ok = h.token(
        data, h.create_client(), headers=key.headers(claims={"iat": now - 300})
    )
    assert ok.status_code == 200, ok.json
    stale = h.token(
        data, h.create_client(), headers=key.headers(claims={"iat": now - 301})
    )
    assert stale.json == invalid_proof(
        "The iat of the DPoP proof is too old or in the future."
    )


def test_a_bad_proof_is_refused_before_client_authentication_fails(
    harness: Harness,
) -> None:
    """The proof is read before any grant runs: a bad proof with a bad
    client is still ``invalid_dpop_proof``, never a 500."""
    response = harness.client.post(
        "/oauth2/token",
        data={"grant_type": "password", "username": "a", "password": "b"},
        headers={"DPoP": "x.y.z"},
    )
    assert response.status_code == 400
    assert response.json == invalid_proof("The DPoP proof is not a JWT.")


@pytest.mark.parametrize(
    "value",
    [
        "a" * 9000,
        "é.é.é",
        "eyJhbGciOiJFUzI1NiJ9.e30.AAAA",
        "eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.AAAA",
        "W10.W10.W10",
    ],
    ids=["oversized", "non-ascii", "no-typ", "no-alg", "json-arrays"],
)
def test_garbage_proofs_are_json_errors(harness: Harness, value: str) -> None:
    response = harness.token(
        {"grant_type": "password", "username": "alice", "password": "wonderland"},
        harness.create_client(),
        headers={"DPoP": value},
    )
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json is not None
    assert response.json["error"] == "invalid_dpop_proof"


def test_claims_that_are_not_an_object_are_refused(harness: Harness) -> None:
    key = dpop_key(harness)
    proof = jws.serialize_compact(
        {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk}, "[1]", key.key
    )
    response = harness.token(
        {"grant_type": "password", "username": "alice", "password": "wonderland"},
        harness.create_client(),
        headers={"DPoP": proof},
    )
    assert response.json == invalid_proof("The DPoP proof has no JSON claims.")


def test_an_invalid_refresh_after_a_valid_proof_is_invalid_grant(
    harness: Harness,
) -> None:
    client = harness.create_client()
    response = harness.token(
        {"grant_type": "refresh_token", "refresh_token": "nope"},
        client,
        headers=dpop_key(harness).headers(),
    )
    assert response.json == INVALID_REFRESH
