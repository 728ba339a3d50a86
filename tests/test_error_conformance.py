"""Errors as README and RFC 6749 §5.2 promise them, on the token,
revocation and introspection endpoints alike (SPEC §5): one
``invalid_client`` description, ``invalid_request`` for a missing
``grant_type`` and for an undecodable body, a JSON 405 for every method but
POST."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import TestResponse

from flask_refreshgrant import ClientCredentials

from .conftest import Harness, basic_auth

ENDPOINTS = ["token", "revoke", "introspect"]
CLIENT_AUTHENTICATION_FAILED = {
    "error": "invalid_client",
    "error_description": "Client authentication failed.",
}


def post(
    h: Harness, endpoint: str, data: dict[str, str] | bytes, **kwargs: Any
) -> TestResponse:
    return h.client.post(
        f"/oauth2/{endpoint}",
        data=data,
        content_type="application/x-www-form-urlencoded",
        **kwargs,
    )


def form_for(endpoint: str, refresh_token: str) -> dict[str, str]:
    if endpoint == "token":
        return {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return {"token": refresh_token}


@pytest.fixture
def granted(harness: Harness) -> tuple[ClientCredentials, str]:
    client = harness.create_client()
    body = harness.password_grant(client).json
    assert body is not None
    return client, body["refresh_token"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("basic", [True, False], ids=["basic", "post"])
def test_invalid_client_has_one_description_for_unknown_and_wrong_secret(
    harness: Harness,
    granted: tuple[ClientCredentials, str],
    endpoint: str,
    basic: bool,
) -> None:
    """SPEC §5: no oracle for which client ids exist."""
    client, refresh_token = granted
    answers = []
    for client_id, secret in (("nobody", "x"), (client.client_id, "wrong")):
        data = form_for(endpoint, refresh_token)
        headers = {}
        if basic:
            headers["Authorization"] = basic_auth(client_id, secret)
        else:
            data.update(client_id=client_id, client_secret=secret)
        response = post(harness, endpoint, data, headers=headers)
        answers.append(
            (
                response.status_code,
                response.json,
                response.headers.get("WWW-Authenticate"),
            )
        )
    assert answers[0] == answers[1]
    status, body, challenge = answers[0]
    assert body == CLIENT_AUTHENTICATION_FAILED
    assert status == (401 if basic else 400)
    if basic:
        assert challenge is not None
        assert 'error_description="Client authentication failed."' in challenge


def test_authorization_endpoint_unknown_client_has_the_same_description(
    harness: Harness,
) -> None:
    response = harness.client.get(
        "/oauth2/authorize?response_type=code&client_id=nobody&state=s"
    )
    assert response.status_code == 400
    assert response.json == {**CLIENT_AUTHENTICATION_FAILED, "state": "s"}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "body",
    [
        b"grant_type=refresh_token&refresh_token=\xff",
        b"grant_type=refresh_token&refresh_token=%ff%fe",
        b"\xff\xfe=x",
        b"token=abc&x=%C3",
    ],
    ids=["raw", "percent-encoded", "name", "truncated"],
)
def test_an_undecodable_body_is_invalid_request_with_a_description(
    harness: Harness,
    granted: tuple[ClientCredentials, str],
    endpoint: str,
    body: bytes,
) -> None:
    """SPEC §5: a body that is not UTF-8 form data is ``invalid_request``
    ("malformed body"), not an empty form."""
    client, refresh_token = granted
    auth = {"Authorization": basic_auth(client.client_id, client.client_secret)}
    response = post(harness, endpoint, body, headers=auth)
    assert response.status_code == 400
    assert response.json == {
        "error": "invalid_request",
        "error_description": "Malformed request body: it is not UTF-8 form data.",
    }
    # Nothing was consumed.
    assert harness.refresh(client, refresh_token).status_code == 200


def test_utf8_form_data_still_reads(
    harness: Harness, granted: tuple[ClientCredentials, str]
) -> None:
    client, _ = granted
    harness.create_user("zoë", "pässwörd")
    body = "grant_type=password&username=zo%C3%AB&password=p\u00e4ssw%C3%B6rd"
    auth = {"Authorization": basic_auth(client.client_id, client.client_secret)}
    response = post(harness, "token", body.encode(), headers=auth)
    assert response.status_code == 200, response.json


METHODS = ["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("method", METHODS)
def test_every_method_but_post_is_a_json_405_allowing_post(
    harness: Harness, endpoint: str, method: str
) -> None:
    """SPEC §5: OPTIONS included (no HTML, no Flask automatic answer)."""
    response = harness.client.open(f"/oauth2/{endpoint}", method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    if method != "HEAD":
        assert response.json is not None
        assert response.json["error"] == "invalid_request"


def test_post_still_reaches_the_endpoints_under_another_prefix(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(OAUTH2_URL_PREFIX="/auth/v1")
    h.create_user()
    client = h.create_client()
    response = h.client.post(
        "/auth/v1/token",
        data={"grant_type": "password", "username": "alice", "password": "wonderland"},
        headers={"Authorization": basic_auth(client.client_id, client.client_secret)},
    )
    assert response.status_code == 200
    options = h.client.open("/auth/v1/revoke", method="OPTIONS")
    assert (options.status_code, options.headers["Allow"]) == (405, "POST")
    assert h.client.open("/oauth2/token", method="OPTIONS").status_code == 404
