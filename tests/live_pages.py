"""Driving the live example app's pages from a test, as a person's browser
would: a client registered in the server's database, the login form, the
consent page. Shared by the live DPoP, Node and OpenID Connect interop
tests."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import requests
from flask import Flask

from example_app.models import oauth
from flask_refreshgrant import ClientCredentials

from .live import DEMO_PASSWORD, DEMO_USERNAME, REQUEST_TIMEOUT, LiveServer

#: Where the public client's authorization responses go; never followed.
REDIRECT_URI = "http://127.0.0.1/interop/callback"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def register(
    make_example_app: Callable[..., Flask], **kwargs: Any
) -> ClientCredentials:
    """A client registered in the live server's database, in-process."""
    app = make_example_app(EXAMPLE_QUIET=True)
    with app.app_context():
        return oauth.create_client(name="interop", scope="PRODUCTION SANDBOX", **kwargs)


def log_in(server: LiveServer, session: requests.Session) -> None:
    """demo/demo through the app's login form (with its CSRF token)."""
    page = session.get(server.base_url + "/login", timeout=REQUEST_TIMEOUT)
    token = _CSRF.search(page.text)
    assert token is not None, page.text
    response = session.post(
        server.base_url + "/login",
        data={
            "csrf_token": token.group(1),
            "username": DEMO_USERNAME,
            "password": DEMO_PASSWORD,
        },
        allow_redirects=False,
        timeout=REQUEST_TIMEOUT,
    )
    assert response.status_code == 302, response.text


def approve(server: LiveServer, session: requests.Session, url: str) -> str:
    """Approve on the consent page; the redirect's URL."""
    page = session.get(url, timeout=REQUEST_TIMEOUT)
    token = _CSRF.search(page.text)
    assert page.status_code == 200 and token is not None, page.text
    response = session.post(
        url,
        data={"csrf_token": token.group(1), "decision": "approve"},
        allow_redirects=False,
        timeout=REQUEST_TIMEOUT,
    )
    assert response.status_code == 302, response.text
    return response.headers["Location"]
