"""JWT access tokens (RFC 9068, SPEC §10): claims, signature, storage by
``jti`` digest, and every operation that works on opaque tokens."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from flask_refreshgrant import ClientCredentials, RefreshGrant
from flask_refreshgrant.keys import jose
from flask_refreshgrant.security import token_digest

from .conftest import (
    INVALID_REFRESH,
    START,
    Harness,
    all_stored_text,
    basic_auth,
    dpop_key,
    oauth2_json,
)

PING = "/api/ping"


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A JWT's header and claims, unchecked."""
    header, claims, _ = token.split(".")
    return tuple(
        json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        for part in (header, claims)
    )


def verified(h: Harness, token: str) -> dict[str, Any]:
    """The claims, checked against the published JWKS as any service would."""
    keyset = KeySet.import_key_set(h.client.get("/oauth2/jwks").json)  # type: ignore[arg-type]
    decoded = jwt.decode(token, keyset, algorithms=["ES256"])
    assert decoded.header["typ"] == "at+jwt"
    return dict(decoded.claims)


def ping(h: Harness, token: str) -> int:
    return h.client.get(PING, headers={"Authorization": f"Bearer {token}"}).status_code


def introspect(h: Harness, client: ClientCredentials, token: str) -> Any:
    assert client.client_secret is not None
    response = h.client.post(
        "/oauth2/introspect",
        data={"token": token},
        headers={"Authorization": basic_auth(client.client_id, client.client_secret)},
    )
    assert response.status_code == 200
    return response.json


@pytest.fixture
def jwt_harness(make_harness: Callable[..., Harness]) -> Harness:
    h = make_harness(
        OAUTH2_ACCESS_TOKEN_FORMAT="jwt", OAUTH2_ISSUER="https://as.example"
    )
    h.create_user()
    return h


def password_tokens(h: Harness, client: ClientCredentials) -> dict[str, Any]:
    body: dict[str, Any] = h.password_grant(client).json  # type: ignore[assignment]
    assert body is not None and "access_token" in body, body
    return body


def test_claims_and_header(jwt_harness: Harness) -> None:
    h = jwt_harness
    client = h.create_client()
    body = password_tokens(h, client)
    header, _ = parts(body["access_token"])
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256"
    published: Any = h.client.get("/oauth2/jwks").json
    assert header["kid"] == published["keys"][0]["kid"]
    claims = verified(h, body["access_token"])
    assert claims == {
        "iss": "https://as.example",
        "exp": START + 3600,
        "aud": "https://as.example",
        "sub": "1",
        "client_id": client.client_id,
        "iat": START,
        "jti": claims["jti"],
        "scope": "PRODUCTION SANDBOX",
        "auth_time": START,  # the password check was the login
    }
    assert len(claims["jti"]) >= 43
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600


def test_default_resource_is_the_audience(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(
        OAUTH2_ACCESS_TOKEN_FORMAT="jwt",
        OAUTH2_DEFAULT_RESOURCE="https://api.example.com/",
    )
    h.create_user()
    body = password_tokens(h, h.create_client())
    assert parts(body["access_token"])[1]["aud"] == "https://api.example.com/"


def test_stored_as_the_digest_of_its_jti(jwt_harness: Harness) -> None:
    h = jwt_harness
    body = password_tokens(h, h.create_client())
    jti = parts(body["access_token"])[1]["jti"]
    stored = all_stored_text(h)
    assert body["access_token"] not in stored and jti not in stored
    with h.app.app_context():
        model = RefreshGrant.state().models.access_token
        row = h.db.session.scalars(sa.select(model)).one()
        assert row.digest == token_digest(jti)
        assert row.token_format == "jwt"


def test_require_oauth_accepts_it_and_checks_the_database(jwt_harness: Harness) -> None:
    h = jwt_harness
    client = h.create_client()
    body = password_tokens(h, client)
    assert ping(h, body["access_token"]) == 200
    # Revoked: refused at once by the issuing app, though the signature holds.
    revoked = h.client.post(
        "/oauth2/revoke",
        data={"token": body["access_token"]},
        headers={"Authorization": basic_auth(client.client_id, client.client_secret)},
    )
    assert revoked.status_code == 200
    assert ping(h, body["access_token"]) == 401
    assert verified(h, body["access_token"])["sub"] == "1"


def test_a_bare_jti_or_a_forged_jwt_is_no_token(jwt_harness: Harness) -> None:
    h = jwt_harness
    body = password_tokens(h, h.create_client())
    header, claims = parts(body["access_token"])
    assert ping(h, claims["jti"]) == 401
    forger = ECKey.generate_key("P-256")
    forged = jose.sign(
        forger, alg="ES256", kid=header["kid"], typ="at+jwt", claims=claims
    )
    assert ping(h, forged) == 401
    # The right signature, but not an access token's typ.
    with h.app.app_context():
        other_typ = RefreshGrant.state().keys.sign(claims, typ="JWT")
    assert ping(h, other_typ) == 401
    # Tampered claims break the signature.
    head, _, signature = body["access_token"].split(".")
    tampered_claims = dict(claims, scope="PRODUCTION SANDBOX ADMIN")
    payload = base64.urlsafe_b64encode(json.dumps(tampered_claims).encode()).rstrip(
        b"="
    )
    assert ping(h, f"{head}.{payload.decode()}.{signature}") == 401
    assert ping(h, "a.b.c") == 401


def test_an_opaque_token_is_not_found_as_a_jwt(harness: Harness) -> None:
    client = harness.create_client()
    body = password_tokens(harness, client)
    assert "." not in body["access_token"]
    assert ping(harness, body["access_token"]) == 200


def test_introspection_reports_it(jwt_harness: Harness) -> None:
    h = jwt_harness
    client = h.create_client()
    body = password_tokens(h, client)
    report = introspect(h, client, body["access_token"])
    assert report["active"] is True
    assert report["exp"] == START + 3600 and report["scope"] == "PRODUCTION SANDBOX"
    other = h.create_client()
    assert introspect(h, other, body["access_token"]) == {"active": False}


def test_reuse_detection_revokes_the_family_jwts(jwt_harness: Harness) -> None:
    h = jwt_harness
    client = h.create_client()
    first = password_tokens(h, client)
    second = h.refresh(client, first["refresh_token"]).json
    assert second is not None
    assert parts(second["access_token"])[0]["typ"] == "at+jwt"
    assert ping(h, second["access_token"]) == 200
    assert h.refresh(client, first["refresh_token"]).json == INVALID_REFRESH
    assert ping(h, second["access_token"]) == 401


def test_grants_show_lists_the_family(jwt_harness: Harness) -> None:
    h = jwt_harness
    client = h.create_client()
    first = password_tokens(h, client)
    h.refresh(client, first["refresh_token"])
    (grant,) = oauth2_json(h, "grants", "list")
    assert grant["refresh_count"] == 1 and grant["status"] == "active"
    history = oauth2_json(h, "grants", "show", grant["grant_id"])
    assert [t["status"] for t in history["tokens"]] == ["rotated", "live"]
    oauth2_json(h, "grants", "revoke", grant["grant_id"])
    assert ping(h, first["access_token"]) == 401


def test_client_credentials_subject_is_the_client(jwt_harness: Harness) -> None:
    h = jwt_harness
    client = h.create_client(grant_types=("client_credentials",))
    body = h.token({"grant_type": "client_credentials"}, client).json
    assert body is not None
    claims = verified(h, body["access_token"])
    assert claims["sub"] == client.client_id == claims["client_id"]
    assert "auth_time" not in claims
    assert ping(h, body["access_token"]) == 200


def test_dpop_bound_jwt_carries_cnf_jkt(jwt_harness: Harness) -> None:
    h = jwt_harness
    key = dpop_key(h)
    client = h.create_client()
    body = h.token(
        {"grant_type": "password", "username": "alice", "password": "wonderland"},
        client,
        headers=key.headers(),
    ).json
    assert body is not None and body["token_type"] == "DPoP"
    assert verified(h, body["access_token"])["cnf"] == {"jkt": key.jkt}
    token = body["access_token"]
    response = h.client.get(
        PING,
        headers={
            "Authorization": f"DPoP {token}",
            **key.headers("http://localhost/api/ping", "GET", access_token=token),
        },
    )
    assert response.status_code == 200
    assert ping(h, token) == 401  # a bound token is no bearer token


def test_per_client_format_and_switching_on_the_next_refresh(harness: Harness) -> None:
    """SPEC §10: per client; a client switched to JWT gets JWTs from its
    next refresh, with no new login."""
    h = harness
    jwt_client = h.create_client(access_token_format="jwt")
    assert "." in password_tokens(h, jwt_client)["access_token"]
    client = h.create_client()
    first = password_tokens(h, client)
    assert "." not in first["access_token"]
    with h.app.app_context():
        h.oauth.update_client(client.client_id, access_token_format="jwt")
    second = h.refresh(client, first["refresh_token"]).json
    assert second is not None
    assert parts(second["access_token"])[0]["typ"] == "at+jwt"
    assert ping(h, second["access_token"]) == 200
    assert ping(h, first["access_token"]) == 200
    with h.app.app_context():
        h.oauth.update_client(client.client_id, access_token_format=None)
    third = h.refresh(client, second["refresh_token"]).json
    assert third is not None and "." not in third["access_token"]


def test_cli_option_and_client_listing(harness: Harness) -> None:
    created = oauth2_json(
        harness,
        "create-client",
        "--name",
        "api",
        "--grant-type",
        "client_credentials",
        "--access-token-format",
        "jwt",
    )
    shown = oauth2_json(harness, "clients", "show", created["client_id"])
    assert shown["access_token_format"] == "jwt"
    updated = oauth2_json(
        harness,
        "clients",
        "update",
        created["client_id"],
        "--access-token-format",
        "opaque",
    )
    assert updated["access_token_format"] == "opaque"
    with harness.app.app_context(), pytest.raises(ValueError, match="jwt"):
        harness.oauth.update_client(created["client_id"], access_token_format="pasetos")


def test_grace_replay_returns_the_identical_jwt(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(
        OAUTH2_ACCESS_TOKEN_FORMAT="jwt", OAUTH2_REFRESH_TOKEN_GRACE_PERIOD=30
    )
    h.create_user()
    client = h.create_client()
    first = password_tokens(h, client)
    second = h.refresh(client, first["refresh_token"]).json
    h.clock.advance(5)
    again = h.refresh(client, first["refresh_token"]).json
    assert second is not None and again is not None
    assert again["access_token"] == second["access_token"]
    assert again["expires_in"] == second["expires_in"] - 5


def test_jwt_needs_a_secret_key(make_harness: Callable[..., Harness]) -> None:
    from flask_refreshgrant.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        make_harness(OAUTH2_ACCESS_TOKEN_FORMAT="jwt", SECRET_KEY=None)
    with pytest.raises(ConfigurationError, match="OAUTH2_ACCESS_TOKEN_FORMAT"):
        make_harness(OAUTH2_ACCESS_TOKEN_FORMAT="paseto")


def test_per_client_jwt_without_secret_key_fails_cleanly(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(SECRET_KEY=None)
    h.create_user()
    client = h.create_client(access_token_format="jwt")
    response = h.password_grant(client)
    assert response.status_code == 500
    assert response.json == {"error": "server_error"}
    with h.app.app_context():
        assert h.oauth.list_grants() == []


def test_another_instance_accepts_a_key_it_has_not_read_yet(
    make_harness: Callable[..., Harness],
) -> None:
    """Two instances on one database: one rotates and signs with the new
    key at once; the other, whose cached keys predate the rotation, accepts
    the token (an unknown ``kid`` makes it read the keys again)."""
    a = make_harness(OAUTH2_ACCESS_TOKEN_FORMAT="jwt")
    a.create_user()
    b = make_harness(OAUTH2_ACCESS_TOKEN_FORMAT="jwt")
    client = a.create_client()
    first = password_tokens(a, client)
    assert ping(b, first["access_token"]) == 200  # b has read the keys
    oauth2_json(a, "keys", "rotate")
    second = password_tokens(a, client)
    assert (
        parts(second["access_token"])[0]["kid"]
        != parts(first["access_token"])[0]["kid"]
    )
    assert ping(b, second["access_token"]) == 200
    assert ping(b, first["access_token"]) == 200


def test_the_first_key_made_in_the_middle_of_a_refresh(harness: Harness) -> None:
    """No key yet when a client switched to JWTs refreshes: the key is
    stored and the rotation still happens exactly once."""
    h = harness
    client = h.create_client()
    first = password_tokens(h, client)
    with h.app.app_context():
        h.oauth.update_client(client.client_id, access_token_format="jwt")
    assert oauth2_json(h, "keys", "list") == []
    second = h.refresh(client, first["refresh_token"]).json
    assert second is not None and "access_token" in second, second
    assert ping(h, second["access_token"]) == 200
    (grant,) = oauth2_json(h, "grants", "list")
    assert grant["refresh_count"] == 1
    history = oauth2_json(h, "grants", "show", grant["grant_id"])
    assert [t["status"] for t in history["tokens"]] == ["rotated", "live"]
    third = h.refresh(client, second["refresh_token"]).json
    assert third is not None and "access_token" in third, third


def test_aud_is_the_named_resources(jwt_harness: Harness) -> None:
    """SPEC §12 via §10: the audience is what the request named (RFC 8707),
    narrowed on refresh, else the default."""
    h = jwt_harness
    client = h.create_client()
    api, other = "https://api.example.com/", "https://other.example.com/"
    body = h.token(
        {
            "grant_type": "password",
            "username": "alice",
            "password": "wonderland",
            "resource": [api, other],  # type: ignore[dict-item]
        },
        client,
    ).json
    assert body is not None and "access_token" in body, body
    assert verified(h, body["access_token"])["aud"] == [api, other]
    narrowed = h.token(
        {
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "resource": api,
        },
        client,
    ).json
    assert narrowed is not None and "access_token" in narrowed, narrowed
    assert verified(h, narrowed["access_token"])["aud"] == api
    assert ping(h, narrowed["access_token"]) == 200
