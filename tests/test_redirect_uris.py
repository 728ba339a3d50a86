"""Redirect URIs are checked at registration, in the Python API and the CLI
alike (SPEC §6, RFC 6749 §3.1.2, RFC 8252 §7, RFC 9700 §2.1), and matched
exactly — except the port of a loopback URI registered without one (RFC
8252 §7.3)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import sqlalchemy as sa

from flask_refreshgrant import ClientRegistrationError

from .conftest import Harness

ACCEPTED = [
    ("https://client.example.com/cb", False),
    ("https://client.example.com:8443/cb?x=1", False),
    ("http://127.0.0.1/callback", False),
    ("http://127.0.0.1:8000/callback", False),
    ("http://localhost:5000/cb", False),
    ("http://[::1]:9000/cb", False),
    ("com.example.app:/oauth2redirect", True),
    ("com.example.app://callback", True),
]

REFUSED = [
    ("javascript:alert(document.domain)//", False, "scheme 'javascript'"),
    ("javascript:alert(document.domain)//", True, "scheme 'javascript'"),
    ("data:text/html,<script>x</script>", True, "scheme 'data'"),
    ("file:///etc/passwd", True, "scheme 'file'"),
    ("vbscript:msgbox", True, "scheme 'vbscript'"),
    ("https://a.example/cb https://b.example/cb", False, "whitespace"),
    ("https://a.example/cb\n", False, "whitespace"),
    ("https://client.example.com/cb#frag", False, "fragment"),
    ("https://client.example.com/cb#", False, "fragment"),
    ("/relative/cb", False, "absolute"),
    ("client.example.com/cb", False, "absolute"),
    ("http://client.example.com/cb", False, "https"),
    ("http://127.0.0.1.evil.example/cb", False, "https"),
    ("https:///cb", False, "host"),
    ("https://client.example.com:99999/cb", False, "valid URI"),
    ("com.example.app:/cb", False, "public"),
    ("", False, "empty"),
]


def client_count(h: Harness) -> int:
    with h.app.app_context():
        model = h.oauth.state().models.client
        count = h.db.session.scalar(sa.select(sa.func.count()).select_from(model))
        assert count is not None
        return count


@pytest.mark.parametrize(("uri", "public"), ACCEPTED)
def test_acceptable_redirect_uris_are_registered(
    harness: Harness, uri: str, public: bool
) -> None:
    created = harness.create_client(
        grant_types=("authorization_code",), redirect_uris=[uri], public=public
    )
    with harness.app.app_context():
        client = harness.oauth.state().store.get_client(created.client_id)
        assert client is not None and client.redirect_uris == uri


@pytest.mark.parametrize(("uri", "public", "why"), REFUSED)
def test_bad_redirect_uris_are_refused_and_nothing_is_stored(
    harness: Harness, uri: str, public: bool, why: str
) -> None:
    with pytest.raises(ClientRegistrationError, match=why):
        harness.create_client(
            grant_types=("authorization_code",),
            redirect_uris=["https://good.example/cb", uri],
            public=public,
        )
    assert client_count(harness) == 0


@pytest.mark.parametrize(("uri", "public", "why"), REFUSED[:8])
def test_cli_refuses_bad_redirect_uris_with_one_line(
    harness: Harness, uri: str, public: bool, why: str
) -> None:
    args = ["oauth2", "create-client", "--name", "x", "--grant-type"]
    args += ["authorization_code", "--redirect-uri", uri]
    if public:
        args.append("--public")
    result = harness.app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert why.split()[-1] in lines[0]
    assert client_count(harness) == 0


def authorize(h: Harness, client_id: str, redirect_uri: str) -> tuple[int, str]:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": "s",
        }
    )
    response = h.client.post(
        "/oauth2/authorize?" + query, data={"decision": "approve", "user_id": "1"}
    )
    return response.status_code, response.headers.get("Location", "")


def test_loopback_uri_registered_without_a_port_matches_any_port(
    harness: Harness,
) -> None:
    """RFC 8252 §7.3: the server allows any port at request time for a
    loopback redirect URI; a port-less registration opts in."""
    created = harness.create_client(
        grant_types=("authorization_code",),
        redirect_uris=["http://127.0.0.1/callback", "http://localhost:5000/cb"],
    )
    for uri in ("http://127.0.0.1:8000/callback", "http://127.0.0.1:61234/callback"):
        status, location = authorize(harness, created.client_id, uri)
        assert status == 302 and location.startswith(uri + "?"), location
        assert "code" in parse_qs(urlsplit(location).query)
    # Anything else still has to match exactly.
    for uri in (
        "http://127.0.0.1:8000/other",
        "http://localhost:8000/callback",  # another host than registered
        "http://localhost:5001/cb",  # registered with a port: that port only
        "https://127.0.0.1:8000/callback",
        "http://127.0.0.1:8000/callback?x=1",
    ):
        status, location = authorize(harness, created.client_id, uri)
        assert (status, location) == (400, ""), uri
