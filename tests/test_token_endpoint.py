"""The token endpoint's errors (RFC 6749 §5.2): every bad input gets a JSON
error with the no-store headers, never a 500 or an HTML page, and consumes
nothing."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from werkzeug.test import TestResponse

from flask_refreshgrant import ClientCredentials

from .conftest import Harness, basic_auth


def assert_oauth_error(response: TestResponse, status: int, error: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    assert response.json is not None
    assert response.json["error"] == error


@pytest.fixture
def live(harness: Harness) -> tuple[Harness, ClientCredentials, str]:
    """A client and a refresh token that every test checks still works after."""
    client = harness.create_client()
    response = harness.password_grant(client)
    assert response.json is not None
    return harness, client, response.json["refresh_token"]


def still_works(
    harness: Harness, client: ClientCredentials, refresh_token: str
) -> None:
    response = harness.refresh(client, refresh_token)
    assert response.status_code == 200, response.json


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_methods_other_than_post(harness: Harness, method: str) -> None:
    response = harness.client.open("/oauth2/token", method=method)
    assert_oauth_error(response, 405, "invalid_request")
    assert response.headers["Allow"] == "POST"


#: A request's keyword arguments for the test client, from the live client
#: and refresh token.
Build = Callable[[ClientCredentials, str], dict[str, Any]]


def _form(token: str, **extra: str) -> dict[str, str]:
    return {"grant_type": "refresh_token", "refresh_token": token, **extra}


def _basic(client: ClientCredentials, secret: str | None = None) -> dict[str, str]:
    return {
        "Authorization": basic_auth(client.client_id, secret or client.client_secret)
    }


@dataclass(frozen=True)
class BadRequest:
    """A token request refused with ``status`` and ``error``, consuming nothing."""

    id: str
    build: Build
    status: int
    error: str
    #: ``True``/``False``: the response has / has no ``WWW-Authenticate``
    #: (RFC 6749 §5.2: only when the client tried HTTP Basic).
    www_authenticate: bool | None = None


BAD_REQUESTS = [
    BadRequest(
        "json-body",
        lambda c, t: {"json": _form(t), "headers": _basic(c)},
        400,
        "invalid_request",
    ),
    BadRequest(
        "multipart-body",
        lambda c, t: {
            "data": _form(t),
            "content_type": "multipart/form-data",
            "headers": _basic(c),
        },
        400,
        "invalid_request",
    ),
    BadRequest(
        "query-only",
        lambda c, t: {"query_string": _form(t), "headers": _basic(c)},
        400,
        "invalid_request",
    ),
    BadRequest(
        "two-authentication-methods",
        lambda c, t: {
            "data": _form(
                t, client_id=c.client_id, client_secret=c.client_secret or ""
            ),
            "headers": _basic(c),
        },
        400,
        "invalid_request",
    ),
    BadRequest(
        "wrong-secret-basic",
        lambda c, t: {"data": _form(t), "headers": _basic(c, "wrong")},
        401,
        "invalid_client",
        www_authenticate=True,
    ),
    BadRequest(
        "unknown-client-basic",
        lambda c, t: {
            "data": _form(t),
            "headers": {"Authorization": basic_auth("nobody", "x")},
        },
        401,
        "invalid_client",
        www_authenticate=True,
    ),
    BadRequest(
        "wrong-secret-in-body",
        lambda c, t: {"data": _form(t, client_id=c.client_id, client_secret="wrong")},
        400,
        "invalid_client",
        www_authenticate=False,
    ),
    BadRequest(
        "no-client-authentication",
        lambda c, t: {"data": _form(t)},
        400,
        "invalid_client",
    ),
    BadRequest(
        "confidential-client-posing-as-public",
        lambda c, t: {"data": _form(t, client_id=c.client_id)},
        400,
        "invalid_client",
    ),
]


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=[case.id for case in BAD_REQUESTS])
def test_bad_token_request(
    live: tuple[Harness, ClientCredentials, str], case: BadRequest
) -> None:
    h, client, token = live
    response = h.client.post("/oauth2/token", **case.build(client, token))
    assert_oauth_error(response, case.status, case.error)
    if case.www_authenticate is not None:
        assert ("WWW-Authenticate" in response.headers) is case.www_authenticate
    still_works(h, client, token)


@pytest.mark.parametrize("parameter", ["grant_type", "refresh_token", "client_secret"])
def test_parameters_in_the_query_are_invalid_request(
    live: tuple[Harness, ClientCredentials, str], parameter: str
) -> None:
    h, client, token = live
    query = {
        "grant_type": "refresh_token",
        "refresh_token": token,
        "client_secret": "x",
    }
    response = h.token(
        {"grant_type": "refresh_token", "refresh_token": token},
        client,
        query_string={parameter: query[parameter]},
    )
    assert_oauth_error(response, 400, "invalid_request")
    still_works(h, client, token)


@pytest.mark.parametrize("parameter", ["grant_type", "refresh_token", "scope", 'x y"'])
def test_repeated_parameter_is_invalid_request(
    live: tuple[Harness, ClientCredentials, str], parameter: str
) -> None:
    h, client, token = live
    body = f"grant_type=refresh_token&refresh_token={token}&{parameter}=a&{parameter}=b"
    response = h.client.post(
        "/oauth2/token",
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={"Authorization": basic_auth(client.client_id, client.client_secret)},
    )
    assert_oauth_error(response, 400, "invalid_request")
    still_works(h, client, token)


@pytest.mark.parametrize(
    "body",
    [
        b"grant_type=refresh_token&refresh_token=%00abc",
        b"grant_type=password&username=al%00ice&password=wonderland",
        b"grant_type=refresh_token&refresh_token=\xff\xfe\xfd",
        b"grant_type=refresh_token&refresh_token=%ff%fe",
        b"\xff\xff=\xff",
        b"grant_type=refresh_token&refresh_token=" + b"A" * 100_000,
        b"%%%&&&===",
        b"",
    ],
    ids=[
        "nul",
        "nul-username",
        "raw-non-utf8",
        "encoded-non-utf8",
        "binary-name",
        "oversized",
        "garbage",
        "empty",
    ],
)
def test_malformed_bodies_get_a_json_error(
    live: tuple[Harness, ClientCredentials, str], body: bytes
) -> None:
    h, client, token = live
    response = h.client.post(
        "/oauth2/token",
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={"Authorization": basic_auth(client.client_id, client.client_secret)},
    )
    assert response.status_code in (400, 401, 413)  # 413: over OAUTH2_MAX_BODY_BYTES
    assert response.mimetype == "application/json"
    assert response.json is not None
    assert response.json["error"] in {
        "invalid_request",
        "invalid_grant",
        "unsupported_grant_type",
    }
    still_works(h, client, token)


@pytest.mark.parametrize(
    "header",
    [
        "Basic " + base64.b64encode(b"\xff\xfe:\xfd").decode(),  # not UTF-8
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic ",
        "Basic",
        "Basic " + base64.b64encode(b":secret").decode(),
        "Basic " + base64.b64encode(b"id\x00:secret").decode(),
    ],
    ids=["non-utf8", "not-base64", "no-colon", "empty", "bare", "no-id", "nul"],
)
def test_broken_basic_header_is_invalid_client_401(
    live: tuple[Harness, ClientCredentials, str], header: str
) -> None:
    h, client, token = live
    response = h.client.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": token},
        headers={"Authorization": header},
    )
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    still_works(h, client, token)


@pytest.mark.parametrize("grant_type", ["implicit", "token", "urn:x", "authorization"])
def test_unsupported_grant_type(
    live: tuple[Harness, ClientCredentials, str], grant_type: str
) -> None:
    h, client, _ = live
    response = h.token({"grant_type": grant_type}, client)
    assert_oauth_error(response, 400, "unsupported_grant_type")


@pytest.mark.parametrize("grant_type", [None, ""], ids=["missing", "empty"])
def test_missing_grant_type_is_invalid_request(
    live: tuple[Harness, ClientCredentials, str], grant_type: str | None
) -> None:
    """RFC 6749 §5.2: a missing parameter is ``invalid_request``; one sent
    without a value counts as omitted (§3.2). Only a present but unknown
    ``grant_type`` is ``unsupported_grant_type``."""
    h, client, token = live
    data = {"refresh_token": token}
    if grant_type is not None:
        data["grant_type"] = grant_type
    response = h.token(data, client)
    assert_oauth_error(response, 400, "invalid_request")
    assert response.json is not None
    assert response.json["error_description"] == "Missing 'grant_type' in request."
    still_works(h, client, token)


def test_plain_http_to_a_non_loopback_host_is_refused_cleanly(
    live: tuple[Harness, ClientCredentials, str],
) -> None:
    h, client, token = live
    response = h.token(
        {"grant_type": "refresh_token", "refresh_token": token},
        client,
        base_url="http://auth.example.com",
    )
    assert_oauth_error(response, 400, "insecure_transport")
    still_works(h, client, token)
