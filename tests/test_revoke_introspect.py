"""Revocation (RFC 7009), introspection (RFC 7662) and metadata (RFC 8414)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import TestResponse

from flask_refreshgrant import ClientCredentials, signals

from .conftest import INVALID_REFRESH, START, Harness, basic_auth, listen_to


def post(
    h: Harness, endpoint: str, client: ClientCredentials, **form: str
) -> TestResponse:
    headers = {}
    data = dict(form)
    if client.client_secret is None:
        data["client_id"] = client.client_id
    else:
        headers["Authorization"] = basic_auth(client.client_id, client.client_secret)
    return h.client.post(f"/oauth2/{endpoint}", data=data, headers=headers)


def grant(h: Harness, client: ClientCredentials) -> dict[str, Any]:
    body = h.password_grant(client).json
    assert isinstance(body, dict)
    return body


# -- revocation -------------------------------------------------------------------


def test_revoking_a_refresh_token_revokes_its_family(harness: Harness) -> None:
    client = harness.create_client()
    first = grant(harness, client)
    second = harness.refresh(client, first["refresh_token"]).json
    assert second is not None
    with listen_to(signals.token_revoked) as revoked:
        response = post(
            harness,
            "revoke",
            client,
            token=second["refresh_token"],
            token_type_hint="refresh_token",
        )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert revoked == [
        {
            "client_id": client.client_id,
            "user_id": "1",
            "family_id": revoked[0]["family_id"],
            "reason": "revocation",
        }
    ]
    assert harness.refresh(client, second["refresh_token"]).json == INVALID_REFRESH
    for access in (first["access_token"], second["access_token"]):
        ping = harness.client.get(
            "/api/ping", headers={"Authorization": "Bearer " + access}
        )
        assert ping.status_code == 401


def test_revoked_token_gets_no_grace(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(OAUTH2_REFRESH_TOKEN_GRACE_PERIOD=60)
    h.create_user()
    client = h.create_client()
    first = grant(h, client)
    second = h.refresh(client, first["refresh_token"]).json
    assert second is not None
    assert post(h, "revoke", client, token=second["refresh_token"]).status_code == 200
    assert h.refresh(client, first["refresh_token"]).json == INVALID_REFRESH


def test_revoking_an_access_token_leaves_the_refresh_token(harness: Harness) -> None:
    client = harness.create_client()
    tokens = grant(harness, client)
    response = post(
        harness,
        "revoke",
        client,
        token=tokens["access_token"],
        token_type_hint="access_token",
    )
    assert response.status_code == 200
    ping = harness.client.get(
        "/api/ping", headers={"Authorization": "Bearer " + tokens["access_token"]}
    )
    assert ping.status_code == 401
    assert harness.refresh(client, tokens["refresh_token"]).status_code == 200


@pytest.mark.parametrize("hint", [None, "access_token", "refresh_token"])
def test_any_hint_finds_the_token(harness: Harness, hint: str | None) -> None:
    client = harness.create_client()
    tokens = grant(harness, client)
    form = {"token": tokens["refresh_token"]}
    if hint:
        form["token_type_hint"] = hint
    assert post(harness, "revoke", client, **form).status_code == 200
    assert harness.refresh(client, tokens["refresh_token"]).json == INVALID_REFRESH


def test_unknown_token_gets_200(harness: Harness) -> None:
    client = harness.create_client()
    assert post(harness, "revoke", client, token="no-such-token").status_code == 200


def test_unknown_hint_is_unsupported_token_type(harness: Harness) -> None:
    client = harness.create_client()
    tokens = grant(harness, client)
    response = post(
        harness,
        "revoke",
        client,
        token=tokens["refresh_token"],
        token_type_hint="id_token",
    )
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["error"] == "unsupported_token_type"
    assert harness.refresh(client, tokens["refresh_token"]).status_code == 200


def test_another_clients_token_is_refused_and_stays_valid(harness: Harness) -> None:
    owner = harness.create_client()
    other = harness.create_client()
    tokens = grant(harness, owner)
    response = post(harness, "revoke", other, token=tokens["refresh_token"])
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["error"] == "invalid_grant"
    assert harness.refresh(owner, tokens["refresh_token"]).status_code == 200


def test_revocation_requires_client_authentication(harness: Harness) -> None:
    client = harness.create_client()
    tokens = grant(harness, client)
    anonymous = harness.client.post(
        "/oauth2/revoke", data={"token": tokens["refresh_token"]}
    )
    assert anonymous.status_code in (400, 401)
    assert anonymous.json is not None
    assert anonymous.json["error"] == "invalid_client"
    wrong = harness.client.post(
        "/oauth2/revoke",
        data={"token": tokens["refresh_token"]},
        headers={"Authorization": basic_auth(client.client_id, "wrong")},
    )
    assert wrong.status_code == 401
    assert harness.refresh(client, tokens["refresh_token"]).status_code == 200


def test_public_client_revokes_its_own_token(harness: Harness) -> None:
    client = harness.create_client(public=True)
    tokens = grant(harness, client)
    assert (
        post(harness, "revoke", client, token=tokens["refresh_token"]).status_code
        == 200
    )
    assert harness.refresh(client, tokens["refresh_token"]).json == INVALID_REFRESH


@pytest.mark.parametrize("endpoint", ["revoke", "introspect"])
def test_endpoints_refuse_bad_requests_in_json(harness: Harness, endpoint: str) -> None:
    client = harness.create_client()
    assert client.client_secret is not None
    auth = {"Authorization": basic_auth(client.client_id, client.client_secret)}
    cases = [
        harness.client.get(f"/oauth2/{endpoint}"),
        harness.client.post(f"/oauth2/{endpoint}", json={"token": "x"}, headers=auth),
        harness.client.post(f"/oauth2/{endpoint}", data={}, headers=auth),
        harness.client.post(
            f"/oauth2/{endpoint}",
            data="token=a&token=b",
            headers=auth,
            content_type="application/x-www-form-urlencoded",
        ),
        harness.client.post(
            f"/oauth2/{endpoint}",
            query_string={"token": "x"},
            data={"token": "x"},
            headers=auth,
        ),
    ]
    for response in cases:
        assert response.status_code in (400, 405), response.get_data(as_text=True)
        assert response.json is not None
        assert response.json["error"] == "invalid_request"


# -- introspection ----------------------------------------------------------------


def introspect(
    h: Harness, client: ClientCredentials, token: str, **extra: str
) -> dict[str, Any]:
    response = post(h, "introspect", client, token=token, **extra)
    assert response.status_code == 200
    assert isinstance(response.json, dict)
    return response.json


def test_introspecting_an_access_token(harness: Harness) -> None:
    client = harness.create_client()
    tokens = grant(harness, client)
    assert introspect(harness, client, tokens["access_token"]) == {
        "active": True,
        "scope": "PRODUCTION SANDBOX",
        "client_id": client.client_id,
        "token_type": "Bearer",
        "sub": "1",
        "username": "alice",
        "iat": START,
        "exp": START + 3600,
        # No resource named: the default audience, the issuer (RFC 8707).
        "aud": "http://localhost",
    }


def test_refresh_token_reports_its_own_expiry(harness: Harness) -> None:
    client = harness.create_client()
    tokens = grant(harness, client)
    harness.clock.advance(3600)  # the access token has expired
    assert introspect(harness, client, tokens["access_token"]) == {"active": False}
    body = introspect(
        harness, client, tokens["refresh_token"], token_type_hint="refresh_token"
    )
    assert body["active"] is True
    assert body["token_type"] == "refresh_token"
    assert body["exp"] == START + 86400
    assert body["iat"] == START


def test_rotated_revoked_and_expired_are_inactive(harness: Harness) -> None:
    client = harness.create_client()
    tokens = grant(harness, client)
    second = harness.refresh(client, tokens["refresh_token"]).json
    assert second is not None
    assert introspect(harness, client, tokens["refresh_token"]) == {"active": False}
    harness.clock.advance(86400)
    assert introspect(harness, client, second["refresh_token"]) == {"active": False}
    other = grant(harness, client)
    post(harness, "revoke", client, token=other["refresh_token"])
    assert introspect(harness, client, other["refresh_token"]) == {"active": False}
    assert introspect(harness, client, other["access_token"]) == {"active": False}


def test_client_sees_only_its_own_tokens(harness: Harness) -> None:
    owner = harness.create_client()
    other = harness.create_client()
    tokens = grant(harness, owner)
    assert introspect(harness, other, tokens["access_token"]) == {"active": False}
    assert introspect(harness, other, tokens["refresh_token"]) == {"active": False}
    assert introspect(harness, owner, "no-such-token") == {"active": False}


def test_public_clients_cannot_introspect(harness: Harness) -> None:
    client = harness.create_client(public=True)
    tokens = grant(harness, client)
    response = post(harness, "introspect", client, token=tokens["access_token"])
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["error"] == "invalid_client"


def test_never_expiring_refresh_token_has_no_exp(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(OAUTH2_REFRESH_TOKEN_VALIDITY_PERIOD=-1)
    h.create_user()
    client = h.create_client()
    tokens = grant(h, client)
    body = introspect(h, client, tokens["refresh_token"])
    assert body["active"] is True
    assert "exp" not in body


# -- metadata -----------------------------------------------------------------------


def test_metadata(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(OAUTH2_URL_PREFIX="/auth", OAUTH2_SCOPES_SUPPORTED=["A", "B"])
    response = h.client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    body = response.json
    assert body is not None
    assert body["issuer"] == "http://localhost"
    assert body["token_endpoint"] == "http://localhost/auth/token"
    assert body["revocation_endpoint"] == "http://localhost/auth/revoke"
    assert body["introspection_endpoint"] == "http://localhost/auth/introspect"
    assert set(body["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "password",
        "client_credentials",
    }
    assert body["scopes_supported"] == ["A", "B"]
    assert "none" in body["token_endpoint_auth_methods_supported"]
    assert "none" not in body["introspection_endpoint_auth_methods_supported"]


def test_metadata_issuer_from_config(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(OAUTH2_ISSUER="https://id.example.com")
    body = h.client.get("/.well-known/oauth-authorization-server").json
    assert body is not None
    assert body["issuer"] == "https://id.example.com"
    assert body["token_endpoint"] == "https://id.example.com/oauth2/token"
    assert "scopes_supported" not in body
