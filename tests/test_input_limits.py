"""Issue 19: hostile input answered with the endpoint's JSON error, never a
5xx or an HTML page (SPEC §13), on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import io
import json
import warnings
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from joserfc import jws
from joserfc.errors import SecurityWarning

from flask_refreshgrant import ClientCredentials, bounded_json, signals

from .conftest import (
    PING_URL,
    TOKEN_URL,
    Harness,
    basic_auth,
    dpop_key,
    listen_to,
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


PASSWORD = {"grant_type": "password", "username": "alice", "password": "wonderland"}


# -- bounded JSON ----------------------------------------------------------------


def test_bounded_json_accepts_32_levels_and_refuses_33() -> None:
    assert bounded_json.loads(nested(32)) == json.loads(nested(32))
    with pytest.raises(bounded_json.JSONLimitError, match="deeper than 32"):
        bounded_json.loads(nested(33))


def test_bounded_json_refuses_a_thousand_levels_without_recursion() -> None:
    with pytest.raises(bounded_json.JSONLimitError, match="deeper than 32"):
        bounded_json.loads('{"a":' + nested(1000) + "}")


def test_bounded_json_counts_no_bracket_inside_a_string() -> None:
    text = json.dumps({"a": "[{" * 100, "b": '\\"[[[' * 20, "c": [[1]]})
    assert bounded_json.nesting_depth(text.encode()) == 3
    assert bounded_json.loads(text)["c"] == [[1]]


def test_bounded_json_refuses_more_than_8_kib() -> None:
    bounded_json.loads(json.dumps("x" * 8000))
    with pytest.raises(bounded_json.JSONLimitError, match="larger than 8192"):
        bounded_json.loads(json.dumps("x" * 8191))


# -- point 2: nested DPoP proofs -------------------------------------------------


def nested_header_proof(depth: int = 1000) -> str:
    """The issue's repro: a header nested ``depth`` deep, unsigned."""
    return b64(('{"a":' + nested(depth) + "}").encode()) + ".e30.AA"


def nested_claims_proof(h: Harness, htu: str, htm: str, depth: int = 1000) -> str:
    """A proof signed by the attacker's own key whose claims nest deep."""
    key = dpop_key(h)
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk}
    claims = (
        f'{{"jti":"j","htm":"{htm}","htu":"{htu}","iat":{int(h.clock.now)},'
        f'"x":{nested(depth)}}}'
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        return jws.serialize_compact(header, claims, key.key, algorithms=["ES256"])


@pytest.mark.parametrize(
    ("case", "what"),
    [("header", "header"), ("header 33", "header"), ("claims", "claims")],
)
def test_a_deeply_nested_proof_is_invalid_dpop_proof_at_the_token_endpoint(
    harness: Harness, case: str, what: str
) -> None:
    client = harness.create_client()
    proof = {
        "header": lambda: nested_header_proof(),
        "header 33": lambda: nested_header_proof(33),
        "claims": lambda: nested_claims_proof(harness, TOKEN_URL, "POST"),
    }[case]()
    response = harness.token(PASSWORD, client, headers={"DPoP": proof})
    assert response.status_code == 400
    assert response.json == {
        "error": "invalid_dpop_proof",
        "error_description": (
            f"The {what} of the DPoP proof is too large or too deeply nested."
        ),
    }


@pytest.mark.parametrize("case", ["header", "claims"])
def test_a_deeply_nested_proof_is_a_dpop_challenge_at_a_resource(
    harness: Harness, case: str
) -> None:
    key = dpop_key(harness)
    response = harness.token(PASSWORD, harness.create_client(), headers=key.headers())
    assert response.json is not None
    access = response.json["access_token"]
    proof = (
        nested_header_proof()
        if case == "header"
        else nested_claims_proof(harness, PING_URL, "GET")
    )
    answer = harness.client.get(
        "/api/ping", headers={"Authorization": f"DPoP {access}", "DPoP": proof}
    )
    assert answer.status_code == 401
    assert answer.json is not None
    assert answer.json["error"] == "invalid_dpop_proof"
    assert answer.headers["WWW-Authenticate"].startswith(
        'DPoP error="invalid_dpop_proof"'
    )


# -- point 3: characters an error_description may not hold, at /authorize -------

REDIRECT = "https://client.example.com/cb"


def code_client(h: Harness) -> ClientCredentials:
    return h.create_client(
        grant_types=("authorization_code", "refresh_token"), redirect_uris=[REDIRECT]
    )


@pytest.mark.parametrize("value", ["é", 'a"b', "a\\b", "code\u2028"])
def test_an_unknown_response_type_with_odd_characters_is_an_error_not_a_500(
    harness: Harness, value: str
) -> None:
    client = code_client(harness)
    # The repro: the client's default redirect URI gets the error.
    response = harness.client.get(
        "/oauth2/authorize?"
        + urlencode({"response_type": value, "client_id": client.client_id})
    )
    assert response.status_code == 302
    params = parse_qs(urlsplit(response.headers["Location"]).query)
    assert params["error"] == ["unsupported_response_type"]
    assert params["error_description"] == [
        "The response type is not supported by the server."
    ]
    # No client to send it back to: JSON to the user agent.
    response = harness.client.get(
        "/oauth2/authorize?" + urlencode({"response_type": value, "client_id": "x"})
    )
    assert response.status_code == 400
    assert response.json == {
        "error": "unsupported_response_type",
        "error_description": "The response type is not supported by the server.",
    }


@pytest.mark.parametrize("path", ["é", '"', "\\", "%22"])
def test_an_unregistered_redirect_uri_with_odd_characters_is_json_400(
    harness: Harness, path: str
) -> None:
    client = code_client(harness)
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": "https://client.example.com/" + path,
    }
    response = harness.client.get("/oauth2/authorize?" + urlencode(query))
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.json == {
        "error": "invalid_request",
        "error_description": "The redirect_uri is not registered for this client.",
    }


# -- point 8: every route of the extension answers in JSON ---------------------

METADATA = "/.well-known/oauth-authorization-server"


@pytest.mark.parametrize("method", ["OPTIONS", "PUT", "DELETE", "TRACE", "PATCH"])
@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/oauth2/authorize", "GET, HEAD, POST"),
        (METADATA, "GET, HEAD"),
        ("/oauth2/token", "POST"),
        ("/oauth2/revoke", "POST"),
        ("/oauth2/introspect", "POST"),
        ("/oauth2/jwks", "GET, HEAD"),
        ("/oauth2/userinfo", "GET, HEAD, POST"),
    ],
)
def test_other_methods_are_a_json_405(
    harness: Harness, method: str, path: str, allow: str
) -> None:
    response = harness.client.open(path, method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == allow
    assert response.json is not None and response.json["error"] == "invalid_request"
    assert response.headers["Cache-Control"] == "no-store"


def test_head_of_metadata_is_answered(harness: Harness) -> None:
    assert harness.client.head(METADATA).status_code == 200


@pytest.mark.parametrize(
    "path", ["/oauth2/token/", "/oauth2/", "/oauth2", "/oauth2/nothing", "/oauth2/a/b"]
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_unknown_paths_under_the_prefix_are_a_json_404(
    harness: Harness, path: str, method: str
) -> None:
    response = harness.client.open(path, method=method)
    assert response.status_code == 404
    assert response.json == {
        "error": "invalid_request",
        "error_description": "No such endpoint.",
    }


def test_an_apps_own_route_under_the_prefix_keeps_working(harness: Harness) -> None:
    @harness.app.get("/oauth2/custom")
    def custom() -> str:
        return "mine"

    assert harness.client.get("/oauth2/custom").text == "mine"
    response = harness.client.delete("/oauth2/custom")
    assert response.status_code == 405
    assert response.json is not None and response.json["error"] == "invalid_request"
    # Outside the prefix the app's own 404 page stays.
    assert harness.client.get("/nothing").status_code == 404
    assert harness.client.get("/nothing").mimetype == "text/html"


@pytest.mark.parametrize("method", ["OPTIONS", "PUT", "DELETE", "TRACE"])
@pytest.mark.parametrize("path", ["/oauth2/authorize", METADATA])
def test_the_example_app_answers_other_methods_in_json_too(
    make_example_app: Callable[..., Flask], method: str, path: str
) -> None:
    """With CSRF protection on (the example app's Flask-WTF), as the issue
    found it: the extension's routes still answer in JSON."""
    app = make_example_app(EXAMPLE_QUIET=True)
    response = app.test_client().open(path, method=method)
    assert response.status_code == 405
    assert response.mimetype == "application/json"


# -- points 4 and 5: OAUTH2_MAX_BODY_BYTES, streamed bodies included --------------


def post_streamed(h: Harness, path: str, body: bytes) -> Any:
    """A body without ``Content-Length`` that the server terminates (as
    gunicorn and the dev server do for a chunked body)."""
    return h.client.post(
        path,
        input_stream=io.BytesIO(body),
        content_type="application/x-www-form-urlencoded",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


@pytest.mark.parametrize(
    "path", ["/oauth2/token", "/oauth2/revoke", "/oauth2/authorize", "/oauth2/userinfo"]
)
def test_the_body_limit_is_a_setting_and_covers_streamed_bodies(
    make_harness: Callable[..., Harness], path: str
) -> None:
    h = make_harness(OAUTH2_MAX_BODY_BYTES=2048)
    body = b"grant_type=password&token=x&pad=" + b"x" * 2100 + b"&grant_type=again"
    for response in (
        post_streamed(h, path, body),
        h.client.post(
            path, data=body, content_type="application/x-www-form-urlencoded"
        ),
    ):
        assert response.status_code == 413
        assert response.json == {
            "error": "invalid_request",
            "error_description": "The request body is larger than 2048 bytes.",
        }


def test_a_streamed_body_within_the_limit_is_read_whole(harness: Harness) -> None:
    client = harness.create_client()
    form = urlencode({**PASSWORD, "scope": "PRODUCTION"}).encode()
    response = harness.client.post(
        "/oauth2/token",
        input_stream=io.BytesIO(form),
        content_type="application/x-www-form-urlencoded",
        headers={
            "Transfer-Encoding": "chunked",
            "Authorization": basic_auth(client.client_id, client.client_secret or ""),
        },
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 200, response.json
    assert response.json is not None and response.json["scope"] == "PRODUCTION"


# -- point 9: two clients in one request ------------------------------------------


@pytest.mark.parametrize("named", ["other", "unknown", "empty"])
@pytest.mark.parametrize("endpoint", ["token", "revoke", "introspect"])
def test_a_body_naming_another_client_is_invalid_request(
    harness: Harness, named: str, endpoint: str
) -> None:
    """Basic-authenticated as A with ``client_id=B`` (or an unknown id) in
    the body: refused, and A's refresh token is not consumed."""
    a = harness.create_client()
    b = harness.create_client()
    granted = harness.password_grant(a)
    assert granted.json is not None
    refresh = granted.json["refresh_token"]
    client_id = {"other": b.client_id, "unknown": "nobody", "empty": ""}[named]
    data = {"token": refresh, "client_id": client_id}
    if endpoint == "token":
        data = {"grant_type": "refresh_token", "refresh_token": refresh, **data}
        del data["token"]
    response = harness.client.post(
        f"/oauth2/{endpoint}",
        data=data,
        headers={"Authorization": basic_auth(a.client_id, a.client_secret or "")},
    )
    assert response.status_code == 400
    assert response.json == {
        "error": "invalid_request",
        "error_description": (
            "The client_id in the body is not the client that authenticated."
        ),
    }
    again = harness.token({"grant_type": "refresh_token", "refresh_token": refresh}, a)
    assert again.status_code == 200, again.json


def test_a_body_naming_the_authenticated_client_is_fine(harness: Harness) -> None:
    a = harness.create_client()
    granted = harness.password_grant(a)
    assert granted.json is not None
    response = harness.token(
        {
            "grant_type": "refresh_token",
            "refresh_token": granted.json["refresh_token"],
            "client_id": a.client_id,
        },
        a,
    )
    assert response.status_code == 200, response.json


# -- point 10: a deleted user's tokens --------------------------------------------


def test_revoke_user_ends_a_deleted_users_live_access_tokens(harness: Harness) -> None:
    """Decided: ``require_oauth`` does not load the user on every call (one
    more query on the hot path); an app that deletes a user calls
    ``oauth.revoke_user`` (documented), which revokes every refresh and
    access token of the user at every client, and fires ``token_revoked``."""
    other_user = harness.create_user("bob", "builder")
    clients = [harness.create_client(), harness.create_client()]
    tokens = []
    for client in clients:
        response = harness.password_grant(client)
        assert response.json is not None
        tokens.append(response.json)
    bob = harness.token(
        {"grant_type": "password", "username": "bob", "password": "builder"},
        clients[0],
    ).json
    assert bob is not None

    def ping(access: str) -> int:
        headers = {"Authorization": f"Bearer {access}"}
        return harness.client.get("/api/ping", headers=headers).status_code

    harness.delete_user(1)
    # Without revoke_user the access token still passes (what the issue saw).
    assert ping(tokens[0]["access_token"]) == 200
    with listen_to(signals.token_revoked) as events, harness.app.app_context():
        assert harness.oauth.revoke_user(1) == 4  # two refresh, two access
        assert harness.oauth.revoke_user("1") == 0  # nothing live any more
    assert [(e["user_id"], e["reason"]) for e in events] == [("1", "user")]
    for issued in tokens:
        assert ping(issued["access_token"]) == 401
        refreshed = harness.token(
            {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]},
            clients[0],
        )
        assert refreshed.status_code == 400
    # Another user's tokens are untouched.
    assert other_user == 2 and ping(bob["access_token"]) == 200


# -- point 7: what an anonymous caller can make the server store -------------------


def proof_rows(h: Harness) -> int:
    with h.app.app_context():
        model = h.oauth.state().models.dpop_proof
        assert model is not None
        count = sa.select(sa.func.count()).select_from(model)
        return int(h.db.session.execute(count).scalar_one())


def test_anonymous_token_requests_with_valid_proofs_store_nothing(
    harness: Harness,
) -> None:
    client = harness.create_client()
    key = dpop_key(harness)
    wrong = ClientCredentials(client.client_id, "wrong-secret")
    for credentials in (wrong, ClientCredentials("nobody", "x"), None):
        for _ in range(10):
            response = harness.token(PASSWORD, credentials, headers=key.headers())
            assert response.status_code in (400, 401)
            assert response.json is not None
            assert response.json["error"] == "invalid_client"
    assert proof_rows(harness) == 0
    # An authenticated client's proof is recorded, and used once only.
    proof = key.proof()
    assert harness.token(PASSWORD, client, headers={"DPoP": proof}).status_code == 200
    assert proof_rows(harness) == 1
    replayed = harness.token(PASSWORD, client, headers={"DPoP": proof})
    assert replayed.status_code == 400
    assert replayed.json == {
        "error": "invalid_dpop_proof",
        "error_description": "This DPoP proof has been used before.",
    }


def test_resource_calls_without_a_live_bound_token_store_no_proof(
    harness: Harness,
) -> None:
    key = dpop_key(harness)
    granted = harness.token(PASSWORD, harness.create_client(), headers=key.headers())
    assert granted.json is not None
    access = granted.json["access_token"]
    before = proof_rows(harness)
    for token in ("made-up-token", "another-one"):
        for _ in range(10):
            answer = harness.client.get(
                "/api/ping",
                headers={
                    "Authorization": f"DPoP {token}",
                    "DPoP": key.proof(PING_URL, "GET", access_token=token),
                },
            )
            assert answer.status_code == 401
    # A live bound token presented with another key's proof: nothing either.
    other = dpop_key(harness)
    answer = harness.client.get(
        "/api/ping",
        headers={
            "Authorization": f"DPoP {access}",
            "DPoP": other.proof(PING_URL, "GET", access_token=access),
        },
    )
    assert answer.status_code == 401
    assert proof_rows(harness) == before
    proof = key.proof(PING_URL, "GET", access_token=access)
    headers = {"Authorization": f"DPoP {access}", "DPoP": proof}
    assert harness.client.get("/api/ping", headers=headers).status_code == 200
    assert proof_rows(harness) == before + 1
    replayed = harness.client.get("/api/ping", headers=headers)
    assert replayed.status_code == 401
    assert replayed.json is not None
    assert replayed.json["error_description"] == "This DPoP proof has been used before."
