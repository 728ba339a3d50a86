"""OpenID Connect (SPEC §11): ID tokens at the code exchange and on every
refresh, prompt, max_age, offline_access, userinfo and discovery."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import request
from joserfc import jwt
from joserfc.jwk import KeySet
from werkzeug.test import TestResponse

from flask_refreshgrant import AuthorizationRequest, ClientCredentials

from .conftest import (
    DPOP_REDIRECT,
    INVALID_REFRESH,
    START,
    Harness,
    dpop_key,
    pkce_pair,
    redirect_query,
)

ISSUER = "https://as.example"


def oidc_authorize(authorization: AuthorizationRequest, load_user: Any) -> Any:
    """An app's view reduced to headers: ``X-User`` is the logged-in user,
    ``X-Auth-Time`` when they logged in, ``X-Remembered`` a consent given
    before; a POST with ``decision=approve`` is the consent form."""
    user_id = request.headers.get("X-User")
    user = None if user_id is None else load_user(user_id)
    auth_time_header = request.headers.get("X-Auth-Time")
    auth_time = None if auth_time_header is None else int(auth_time_header)
    if authorization.login_required(user, auth_time):
        if authorization.prompt_none:
            return authorization.deny("login_required")
        return {"login": authorization.resume_url}
    remembered = "X-Remembered" in request.headers
    if request.method == "GET" and (authorization.consent_required or not remembered):
        if authorization.prompt_none:
            return authorization.deny("consent_required")
        return {"consent": authorization.scopes}
    if request.method == "POST" and request.form.get("decision") != "approve":
        return authorization.deny()
    return authorization.approve(user, auth_time=auth_time)


def user_claims(user: Any, scopes: list[str]) -> dict[str, Any]:
    claims: dict[str, Any] = {"preferred_username": user.username}
    if "email" in scopes:
        claims["email"] = f"{user.username}@example.com"
    return claims


@pytest.fixture
def make_oidc(make_harness: Callable[..., Harness]) -> Callable[..., Harness]:
    def make(**config: Any) -> Harness:
        h = make_harness(
            OAUTH2_ISSUER=ISSUER,
            authorize_view=oidc_authorize,
            get_user_claims=user_claims,
            **config,
        )
        h.create_user()
        return h

    return make


@pytest.fixture
def oidc(make_oidc: Callable[..., Harness]) -> Harness:
    return make_oidc()


def rp(
    h: Harness, scope: str = "openid profile email offline_access PRODUCTION", **kw: Any
) -> ClientCredentials:
    return h.create_client(
        grant_types=("authorization_code", "refresh_token", "password"),
        scope=scope,
        redirect_uris=[DPOP_REDIRECT],
        **kw,
    )


def authorize_url(client: ClientCredentials, challenge: str, **params: str) -> str:
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": DPOP_REDIRECT,
        "scope": "openid profile",
        "state": "st",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **params,
    }
    return "/oauth2/authorize?" + urlencode(query)


def approve(
    h: Harness,
    client: ClientCredentials,
    *,
    auth_time: int | None = None,
    **params: str,
) -> tuple[str, str]:
    """Consent as user 1; the code and its PKCE verifier."""
    verifier, challenge = pkce_pair()
    headers = {"X-User": "1"}
    if auth_time is not None:
        headers["X-Auth-Time"] = str(auth_time)
    response = h.client.post(
        authorize_url(client, challenge, **params),
        data={"decision": "approve"},
        headers=headers,
    )
    query = redirect_query(response)
    assert "code" in query, query
    return query["code"], verifier


def exchange(
    h: Harness, client: ClientCredentials, code: str, verifier: str
) -> dict[str, Any]:
    body: dict[str, Any] = h.token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": DPOP_REDIRECT,
            "code_verifier": verifier,
        },
        client,
    ).json  # type: ignore[assignment]
    assert body is not None and "access_token" in body, body
    return body


def login(
    h: Harness, client: ClientCredentials, auth_time: int | None = None, **params: str
) -> dict[str, Any]:
    code, verifier = approve(h, client, auth_time=auth_time, **params)
    return exchange(h, client, code, verifier)


def id_claims(h: Harness, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """An ID token's header and claims, checked against the JWKS."""
    keyset = KeySet.import_key_set(h.client.get("/oauth2/jwks").json)  # type: ignore[arg-type]
    decoded = jwt.decode(token, keyset)
    return dict(decoded.header), dict(decoded.claims)


def half_hash(value: str) -> str:
    digest = hashlib.sha256(value.encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# -- the code exchange -----------------------------------------------------------


def test_id_token_from_the_code_exchange(oidc: Harness) -> None:
    client = rp(oidc)
    body = login(oidc, client, nonce="n-0S6_WzA2Mj", auth_time=START - 120)
    header, claims = id_claims(oidc, body["id_token"])
    assert header["alg"] == "ES256" and header["kid"]
    assert claims == {
        "iss": ISSUER,
        "sub": "1",
        "aud": client.client_id,
        "exp": START + 3600,
        "iat": START,
        "auth_time": START - 120,
        "nonce": "n-0S6_WzA2Mj",
        "at_hash": half_hash(body["access_token"]),
    }
    assert body["scope"] == "openid profile"


def test_auth_time_is_the_consent_time_when_the_app_reports_none(oidc: Harness) -> None:
    client = rp(oidc)
    code, verifier = approve(oidc, client)
    oidc.clock.advance(30)
    body = exchange(oidc, client, code, verifier)
    _, claims = id_claims(oidc, body["id_token"])
    assert claims["auth_time"] == START and claims["iat"] == START + 30
    assert "nonce" not in claims


def test_id_token_validity_period(make_oidc: Callable[..., Harness]) -> None:
    h = make_oidc(OAUTH2_ID_TOKEN_VALIDITY_PERIOD=300)
    _, claims = id_claims(h, login(h, rp(h))["id_token"])
    assert claims["exp"] - claims["iat"] == 300


def test_no_id_token_without_openid_or_for_the_password_grant(oidc: Harness) -> None:
    client = rp(oidc)
    assert "id_token" not in login(oidc, client, scope="PRODUCTION")
    body = oidc.token(
        {
            "grant_type": "password",
            "username": "alice",
            "password": "wonderland",
            "scope": "openid",
        },
        client,
    ).json
    assert body is not None and "access_token" in body and "id_token" not in body
    refreshed = oidc.refresh(client, body["refresh_token"]).json
    assert refreshed is not None and "id_token" not in refreshed


def test_openid_needs_a_client_registered_for_it(oidc: Harness) -> None:
    client = rp(oidc, scope="PRODUCTION")
    _, challenge = pkce_pair()
    response = oidc.client.get(
        authorize_url(client, challenge), headers={"X-User": "1"}
    )
    assert redirect_query(response)["error"] == "invalid_scope"


def test_an_oversized_nonce_is_refused(oidc: Harness) -> None:
    client = rp(oidc)
    _, challenge = pkce_pair()
    response = oidc.client.get(
        authorize_url(client, challenge, nonce="n" * 513), headers={"X-User": "1"}
    )
    query = redirect_query(response)
    assert query["error"] == "invalid_request" and query["state"] == "st"
    assert query["iss"] == ISSUER


@pytest.mark.parametrize(
    ("parameter", "error"),
    [
        ("request", "request_not_supported"),
        ("request_uri", "request_uri_not_supported"),
    ],
)
def test_request_objects_are_refused(oidc: Harness, parameter: str, error: str) -> None:
    """Core §6.1/§6.2: an OP without Request Object support MUST answer
    these errors rather than ignore what the client put in the object."""
    client = rp(oidc)
    _, challenge = pkce_pair()
    value = "eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9."
    if parameter == "request_uri":
        value = "https://client.example/request.jwt"
    response = oidc.client.get(
        authorize_url(client, challenge, **{parameter: value}),
        headers={"X-User": "1"},
    )
    query = redirect_query(response)
    assert query["error"] == error and query["state"] == "st"
    assert query["iss"] == ISSUER
    assert "code" not in query
    metadata = oidc.client.get("/.well-known/openid-configuration").json
    assert metadata is not None
    # Discovery §3: request_uri_parameter_supported is true when left out.
    assert metadata["request_parameter_supported"] is False
    assert metadata["request_uri_parameter_supported"] is False


def test_plain_oauth_requests_ignore_request_objects(oidc: Harness) -> None:
    """RFC 6749 §3.1: unrecognized parameters are ignored — a request
    without ``openid`` is not an OpenID Connect request."""
    client = rp(oidc)
    _, challenge = pkce_pair()
    response = oidc.client.get(
        authorize_url(client, challenge, scope="PRODUCTION", request="x.y."),
        headers={"X-User": "1"},
    )
    # The request reached the app's consent step, as without the parameter.
    assert response.status_code == 200
    assert response.json == {"consent": ["PRODUCTION"]}


# -- refresh (Core §12.2) ------------------------------------------------------


@pytest.mark.parametrize("renew", [True, False])
def test_every_refresh_returns_a_new_id_token(
    make_oidc: Callable[..., Harness], renew: bool
) -> None:
    h = make_oidc(OAUTH2_RENEW_REFRESH_TOKEN_FOR_REFRESH_GRANT=renew)
    client = rp(h)
    first = login(h, client, nonce="abc", auth_time=START - 60)
    _, original = id_claims(h, first["id_token"])
    refresh_token = first["refresh_token"]
    for step in range(1, 4):
        h.clock.advance(100)
        body = h.refresh(client, refresh_token).json
        assert body is not None and "id_token" in body, body
        _, claims = id_claims(h, body["id_token"])
        for same in ("iss", "sub", "aud", "auth_time"):
            assert claims[same] == original[same]
        assert claims["iat"] == START + 100 * step
        assert claims["exp"] == claims["iat"] + 3600
        assert "nonce" not in claims
        assert claims["at_hash"] == half_hash(body["access_token"])
        assert (body["refresh_token"] == refresh_token) is not renew
        refresh_token = body["refresh_token"]


def test_a_narrowed_refresh_of_an_openid_grant_still_gets_an_id_token(
    oidc: Harness,
) -> None:
    client = rp(oidc)
    first = login(oidc, client)
    body = oidc.refresh(client, first["refresh_token"], scope="profile").json
    assert body is not None and body["scope"] == "profile" and "id_token" in body


def test_a_grace_replay_returns_the_identical_id_token(
    make_oidc: Callable[..., Harness],
) -> None:
    h = make_oidc(OAUTH2_REFRESH_TOKEN_GRACE_PERIOD=30)
    client = rp(h)
    first = login(h, client)
    second = h.refresh(client, first["refresh_token"]).json
    h.clock.advance(3)
    replay = h.refresh(client, first["refresh_token"]).json
    assert second is not None and replay is not None
    assert replay["id_token"] == second["id_token"]
    assert replay["access_token"] == second["access_token"]


def test_a_refresh_for_a_user_that_no_longer_loads(oidc: Harness) -> None:
    client = rp(oidc)
    first = login(oidc, client)
    oidc.delete_user(1)
    body = oidc.refresh(client, first["refresh_token"]).json
    assert body is not None and body["error"] == "invalid_grant"


def test_jwt_access_tokens_and_id_tokens_share_auth_time(
    make_oidc: Callable[..., Harness],
) -> None:
    h = make_oidc(OAUTH2_ACCESS_TOKEN_FORMAT="jwt")
    client = rp(h)
    first = login(h, client, auth_time=START - 5)
    header, access = id_claims(h, first["access_token"])
    assert header["typ"] == "at+jwt" and access["auth_time"] == START - 5
    h.clock.advance(10)
    body = h.refresh(client, first["refresh_token"]).json
    assert body is not None
    _, refreshed = id_claims(h, body["access_token"])
    assert refreshed["auth_time"] == START - 5
    _, claims = id_claims(h, body["id_token"])
    assert claims["at_hash"] == half_hash(body["access_token"])


# -- offline_access -------------------------------------------------------------


def test_refresh_may_require_offline_access(make_oidc: Callable[..., Harness]) -> None:
    h = make_oidc(OAUTH2_OIDC_REFRESH_REQUIRES_OFFLINE_ACCESS=True)
    client = rp(h)
    online = login(h, client)
    assert "id_token" in online and "refresh_token" not in online
    offline = login(h, client, scope="openid offline_access")
    assert "refresh_token" in offline
    body = h.refresh(client, offline["refresh_token"]).json
    assert body is not None and "id_token" in body
    # A grant without openid is not an OpenID grant: it refreshes as before.
    assert "refresh_token" in login(h, client, scope="PRODUCTION")


def test_offline_access_asks_for_the_consent_page(oidc: Harness) -> None:
    client = rp(oidc)
    _, challenge = pkce_pair()
    remembered = {"X-User": "1", "X-Remembered": "yes"}
    silent = oidc.client.get(authorize_url(client, challenge), headers=remembered)
    assert "code" in redirect_query(silent)
    asked = oidc.client.get(
        authorize_url(client, challenge, scope="openid offline_access"),
        headers=remembered,
    )
    assert asked.json == {"consent": ["openid", "offline_access"]}
    consent = oidc.client.get(
        authorize_url(client, challenge, prompt="consent"), headers=remembered
    )
    assert consent.json == {"consent": ["openid", "profile"]}


# -- prompt and max_age ---------------------------------------------------------


def test_prompt_none_without_a_login_is_login_required(oidc: Harness) -> None:
    client = rp(oidc)
    _, challenge = pkce_pair()
    response = oidc.client.get(authorize_url(client, challenge, prompt="none"))
    assert redirect_query(response) == {
        "error": "login_required",
        "state": "st",
        "iss": ISSUER,
    }
    assert response.headers["Location"].startswith(DPOP_REDIRECT + "?")


def test_prompt_none_needing_consent_is_consent_required(oidc: Harness) -> None:
    client = rp(oidc)
    _, challenge = pkce_pair()
    url = authorize_url(client, challenge, prompt="none")
    response = oidc.client.get(url, headers={"X-User": "1"})
    assert redirect_query(response)["error"] == "consent_required"
    offline = authorize_url(
        client, challenge, prompt="none", scope="openid offline_access"
    )
    response = oidc.client.get(offline, headers={"X-User": "1", "X-Remembered": "1"})
    assert redirect_query(response)["error"] == "consent_required"
    # Logged in, consent remembered: a silent code.
    response = oidc.client.get(url, headers={"X-User": "1", "X-Remembered": "1"})
    assert "code" in redirect_query(response)


def test_prompt_login_asks_for_a_new_login_once(oidc: Harness) -> None:
    client = rp(oidc)
    _, challenge = pkce_pair()
    url = authorize_url(client, challenge, prompt="login consent")
    response = oidc.client.get(url, headers={"X-User": "1"})
    resume = response.json["login"]  # type: ignore[index]
    resumed = parse_qs(urlsplit(resume).query)
    assert resumed["prompt"] == ["consent"] and resumed["state"] == ["st"]
    again = oidc.client.get(resume, headers={"X-User": "1"})
    assert again.json == {"consent": ["openid", "profile"]}


def test_max_age_compares_with_auth_time(oidc: Harness) -> None:
    client = rp(oidc)
    _, challenge = pkce_pair()
    url = authorize_url(client, challenge, max_age="300")
    headers = {"X-User": "1", "X-Remembered": "1"}
    stale = oidc.client.get(url, headers={**headers, "X-Auth-Time": str(START - 301)})
    assert "login" in stale.json  # type: ignore[operator]
    fresh = oidc.client.get(url, headers={**headers, "X-Auth-Time": str(START - 300)})
    assert "code" in redirect_query(fresh)


def test_max_age_without_a_reported_login_time_asks_for_a_login(
    oidc: Harness,
) -> None:
    """An app that does not say when the user logged in cannot honour
    ``max_age``: the ID token would claim a login that never happened."""
    client = rp(oidc)
    _, challenge = pkce_pair()
    url = authorize_url(client, challenge, max_age="0")
    answer = oidc.client.get(url, headers={"X-User": "1", "X-Remembered": "1"})
    assert "login" in answer.json  # type: ignore[operator]


def test_a_key_that_cannot_sign_consumes_no_code(oidc: Harness) -> None:
    """The ID token is signed after the code is redeemed: a signing key the
    app's SECRET_KEY cannot open must fail the exchange before that, so the
    retry works once the key is fixed (and revokes nothing)."""
    client = rp(oidc)
    login(oidc, client)  # the first key is made, sealed under SECRET_KEY
    code, verifier = approve(oidc, client)
    secret = oidc.app.config["SECRET_KEY"]
    oidc.app.config["SECRET_KEY"] = "another secret key of the same length, or so"
    keys = oidc.app.extensions["refreshgrant"].server.keys
    keys._private.clear()  # as in a process started after the change
    request = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": DPOP_REDIRECT,
        "code_verifier": verifier,
    }
    assert oidc.token(request, client).status_code == 500
    oidc.app.config["SECRET_KEY"] = secret
    body = exchange(oidc, client, code, verifier)
    assert id_claims(oidc, body["id_token"])[1]["sub"] == "1"


@pytest.mark.parametrize(
    "params",
    [
        {"prompt": "none login"},
        {"prompt": "sometimes"},
        {"max_age": "-1"},
        {"max_age": "9" * 5000},
    ],
)
def test_bad_prompt_or_max_age_is_invalid_request(
    oidc: Harness, params: dict[str, str]
) -> None:
    client = rp(oidc)
    _, challenge = pkce_pair()
    response = oidc.client.get(authorize_url(client, challenge, **params))
    query = redirect_query(response)
    assert query["error"] == "invalid_request" and query["iss"] == ISSUER


def test_deny_refuses_an_unknown_error(oidc: Harness) -> None:
    with oidc.app.test_request_context("/"), pytest.raises(ValueError):
        AuthorizationRequest.deny(object.__new__(AuthorizationRequest), "teapot")


# -- userinfo -------------------------------------------------------------------


def userinfo(
    h: Harness, token: str | None, method: str = "GET", **kw: Any
) -> TestResponse:
    headers = kw.pop("headers", {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return h.client.open("/oauth2/userinfo", method=method, headers=headers, **kw)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_userinfo(oidc: Harness, method: str) -> None:
    client = rp(oidc)
    body = login(oidc, client, scope="openid profile email")
    response = userinfo(oidc, body["access_token"], method)
    assert response.status_code == 200
    assert response.json == {
        "sub": "1",
        "preferred_username": "alice",
        "email": "alice@example.com",
    }
    assert response.headers["Cache-Control"] == "no-store"
    narrow = login(oidc, client, scope="openid")
    assert userinfo(oidc, narrow["access_token"]).json == {
        "sub": "1",
        "preferred_username": "alice",
    }


def test_userinfo_errors(oidc: Harness) -> None:
    client = rp(oidc)
    missing = userinfo(oidc, None)
    assert missing.status_code == 401
    # SPEC §11: "without a token 401 with WWW-Authenticate: Bearer" — and
    # no error code (RFC 6750 §3.1, which Core §5.3.3 refers to).
    assert missing.headers.getlist("WWW-Authenticate")[0] == "Bearer"
    assert missing.json == {}
    bad = userinfo(oidc, "not-a-token")
    assert bad.status_code == 401 and "invalid_token" in bad.headers["WWW-Authenticate"]
    no_openid = login(oidc, client, scope="PRODUCTION")
    forbidden = userinfo(oidc, no_openid["access_token"])
    assert forbidden.status_code == 403
    assert (
        forbidden.json is not None and forbidden.json["error"] == "insufficient_scope"
    )
    gone = login(oidc, client)
    oidc.delete_user(1)
    assert userinfo(oidc, gone["access_token"]).status_code == 401


def test_userinfo_without_a_claims_callback_is_sub_only(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(authorize_view=oidc_authorize)
    h.create_user()
    body = login(h, rp(h))
    assert userinfo(h, body["access_token"]).json == {"sub": "1"}


def test_userinfo_with_a_dpop_token(oidc: Harness) -> None:
    key = dpop_key(oidc)
    client = rp(oidc)
    code, verifier = approve(oidc, client)
    body = oidc.token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": DPOP_REDIRECT,
            "code_verifier": verifier,
        },
        client,
        headers=key.headers(),
    ).json
    assert body is not None and body["token_type"] == "DPoP"
    token = body["access_token"]
    response = oidc.client.get(
        "/oauth2/userinfo",
        headers={
            "Authorization": f"DPoP {token}",
            **key.headers(
                "http://localhost/oauth2/userinfo", "GET", access_token=token
            ),
        },
    )
    assert response.status_code == 200 and response.json is not None
    assert response.json["sub"] == "1"
    assert userinfo(oidc, token).status_code == 401


# -- discovery ------------------------------------------------------------------


def test_openid_configuration(oidc: Harness) -> None:
    body = oidc.client.get("/.well-known/openid-configuration").json
    assert body is not None
    metadata = oidc.client.get("/.well-known/oauth-authorization-server").json
    assert metadata is not None
    for key, value in metadata.items():
        if key != "scopes_supported":
            assert body[key] == value
    assert body["issuer"] == ISSUER
    assert body["userinfo_endpoint"] == ISSUER + "/oauth2/userinfo"
    assert body["jwks_uri"] == ISSUER + "/oauth2/jwks"
    assert body["authorization_endpoint"] == ISSUER + "/oauth2/authorize"
    assert body["response_types_supported"] == ["code"]
    assert body["subject_types_supported"] == ["public"]
    assert body["id_token_signing_alg_values_supported"] == ["ES256"]
    assert {"openid", "offline_access"} <= set(body["scopes_supported"])
    assert {"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce"} <= set(
        body["claims_supported"]
    )


def test_openid_scopes_are_known_with_a_scope_list(
    make_oidc: Callable[..., Harness],
) -> None:
    h = make_oidc(OAUTH2_SCOPES_SUPPORTED=["PRODUCTION", "profile"])
    body = h.client.get("/.well-known/openid-configuration").json
    assert body is not None
    assert body["scopes_supported"] == [
        "openid",
        "offline_access",
        "PRODUCTION",
        "profile",
    ]
    assert "id_token" in login(h, rp(h, scope="openid profile PRODUCTION"))
    _ = INVALID_REFRESH
