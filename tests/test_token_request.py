"""The token request object: what Authlib's ``FlaskOAuth2Request`` makes of a
request, made without building the URL on every request (issue 23)."""

from __future__ import annotations

import pytest
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from authlib.oauth2.rfc6749.errors import InsecureTransportError
from flask import Flask, request

from flask_refreshgrant.endpoints.token_request import TokenRequest

URLS = [
    "http://127.0.0.1/oauth2/token",
    "http://127.0.0.1:5000/oauth2/token?x=1&y=%C3%A9",
    "http://127.1.2.3/oauth2/token",
    "http://localhost:8080/oauth2/token",
    "http://LOCALHOST/oauth2/token",
    "http://[::1]:5000/oauth2/token",
    "http://[::ffff:127.0.0.1]/oauth2/token",
    "http://[::ffff:10.0.0.1]/oauth2/token",
    "https://auth.example.com/oauth2/token",
    "https://auth.example.com:8443/prefix/oauth2/token",
    "http://auth.example.com/oauth2/token",
    "http://10.0.0.1/oauth2/token",
    "http://xn--bcher-kva.example/oauth2/token",
    "http://localhost.example.com/oauth2/token",
    "http://127.0.0.1.example.com/oauth2/token",
]


@pytest.fixture
def app() -> Flask:
    return Flask(__name__)


@pytest.mark.parametrize("url", URLS)
def test_same_request_as_authlibs(app: Flask, url: str) -> None:
    """Every attribute Authlib's request sets, ``uri`` included, with the
    same value; refused exactly where Authlib refuses."""
    with app.test_request_context(url, method="POST", data={"a": "b"}):
        try:
            expected = FlaskOAuth2Request(request)
        except InsecureTransportError:
            with pytest.raises(InsecureTransportError):
                TokenRequest(request)
            return
        ours = TokenRequest(request)
        theirs = vars(expected)
        assert set(theirs) - {"uri"} <= set(vars(ours))
        for name, value in theirs.items():
            if name != "payload":
                assert getattr(ours, name) == value, name
        assert ours.uri == expected.uri == request.url
        assert ours.form == expected.form


def test_plain_http_elsewhere_than_loopback_is_refused(app: Flask) -> None:
    url = "http://auth.example.com/oauth2/token"
    with app.test_request_context(url), pytest.raises(InsecureTransportError):
        TokenRequest(request)


def test_authlibs_insecure_transport_switch_is_read_per_request(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``AUTHLIB_INSECURE_TRANSPORT`` allows plain HTTP while it is set,
    and the answer for a host is never remembered with it."""
    url = "http://plain.example.com/oauth2/token"
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    with app.test_request_context(url):
        TokenRequest(request)
    monkeypatch.delenv("AUTHLIB_INSECURE_TRANSPORT")
    with app.test_request_context(url), pytest.raises(InsecureTransportError):
        TokenRequest(request)
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    with app.test_request_context(url):
        TokenRequest(request)
