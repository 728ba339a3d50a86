"""The issuer: ``iss`` on every authorization response (RFC 9207, the mix-up
defence of RFC 9700 §4.4), the same value as the metadata's ``issuer``, and
a warning when ``OAUTH2_ISSUER`` is unset in production (SPEC §6)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_refreshgrant import ClientCredentials, RefreshGrant

from .conftest import Harness

REDIRECT = "https://client.example.com/cb"


def code_client(h: Harness, **kwargs: Any) -> ClientCredentials:
    return h.create_client(
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris=[REDIRECT],
        **kwargs,
    )


def authorize_query(client: ClientCredentials, **params: str) -> str:
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": REDIRECT,
        "scope": "PRODUCTION",
        "state": "xyz",
        **params,
    }
    return "/oauth2/authorize?" + urlencode(query)


def redirected(location: str) -> dict[str, list[str]]:
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == REDIRECT, location
    return parse_qs(parts.query)


def metadata_issuer(h: Harness, **kwargs: Any) -> str:
    body = h.client.get("/.well-known/oauth-authorization-server", **kwargs).json
    assert body is not None
    assert body["authorization_response_iss_parameter_supported"] is True
    return str(body["issuer"])


@pytest.mark.parametrize("decision", ["approve", "deny"])
def test_code_and_denial_redirects_carry_the_metadata_issuer(
    harness: Harness, decision: str
) -> None:
    client = code_client(harness)
    response = harness.client.post(
        authorize_query(client), data={"decision": decision, "user_id": "1"}
    )
    assert response.status_code == 302
    params = redirected(response.headers["Location"])
    assert params["iss"] == [metadata_issuer(harness)] == ["http://localhost"]
    assert ("code" in params) is (decision == "approve")
    assert params["state"] == ["xyz"]


@pytest.mark.parametrize(
    ("grant_types", "params", "error"),
    [
        (("authorization_code",), {"scope": "UNKNOWN"}, "invalid_scope"),
        (("password",), {}, "unauthorized_client"),
        (("authorization_code",), {"code_challenge_method": "plain"}, None),
    ],
)
def test_error_redirects_before_consent_carry_iss(
    harness: Harness,
    grant_types: tuple[str, ...],
    params: dict[str, str],
    error: str | None,
) -> None:
    client = harness.create_client(grant_types=grant_types, redirect_uris=[REDIRECT])
    if "code_challenge_method" in params:
        params = {**params, "code_challenge": "x" * 43}
        error = "invalid_request"
    response = harness.client.get(authorize_query(client, **params))
    assert response.status_code == 302, response.json
    query = redirected(response.headers["Location"])
    assert query["error"] == [error]
    assert query["iss"] == ["http://localhost"]


def test_configured_issuer_wins_over_the_host_header(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(OAUTH2_ISSUER="https://auth.example.com/")
    h.create_user()
    client = code_client(h)
    response = h.client.post(
        authorize_query(client),
        data={"decision": "approve", "user_id": "1"},
        base_url="https://evil.example",
    )
    params = redirected(response.headers["Location"])
    assert params["iss"] == ["https://auth.example.com"]
    assert metadata_issuer(h, base_url="https://evil.example") == (
        "https://auth.example.com"
    )


def init(app: Flask) -> None:
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
    RefreshGrant().init_app(app, db=SQLAlchemy(app), load_user=lambda user_id: None)


def issuer_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "OAUTH2_ISSUER" in r.getMessage()]


def test_unset_issuer_warns_once_when_a_request_first_needs_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Not at init_app (every ``flask …`` command, ``--help`` included,
    creates the app): when the server first takes the issuer from a
    request's Host header, and then never again."""
    caplog.set_level(logging.WARNING)
    app = Flask("production")
    init(app)
    assert issuer_warnings(caplog) == []
    client = app.test_client()
    assert client.get("/.well-known/oauth-authorization-server").status_code == 200
    (warning,) = issuer_warnings(caplog)
    assert "Host header" in warning
    record = next(r for r in caplog.records if "OAUTH2_ISSUER" in r.getMessage())
    assert record.levelno == logging.WARNING and record.name == "production"
    for _ in range(3):
        client.get("/.well-known/oauth-authorization-server")
    assert len(issuer_warnings(caplog)) == 1
    # Each app warns for itself.
    other = Flask("production")
    init(other)
    other.test_client().get("/.well-known/oauth-authorization-server")
    assert len(issuer_warnings(caplog)) == 2


@pytest.mark.parametrize("config", ["TESTING", "DEBUG", "OAUTH2_ISSUER"])
def test_no_issuer_warning_in_debug_testing_or_when_set(
    caplog: pytest.LogCaptureFixture, config: str
) -> None:
    caplog.set_level(logging.WARNING)
    app = Flask("quiet")
    app.config[config] = (
        "https://auth.example.com" if config == "OAUTH2_ISSUER" else True
    )
    init(app)
    app.test_client().get("/.well-known/oauth-authorization-server")
    assert issuer_warnings(caplog) == []
