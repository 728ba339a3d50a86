"""HTTP Basic client credentials are form-encoded (RFC 6749 §2.3.1, issue 19
point 13): the token, revocation and introspection endpoints decode them, and
still read credentials sent unencoded (every generated id and secret reads
the same either way)."""

from __future__ import annotations

import base64
from urllib.parse import quote_plus

import pytest
import sqlalchemy as sa
from werkzeug.test import TestResponse

from flask_refreshgrant import ClientCredentials
from flask_refreshgrant.security import token_digest

from .conftest import Harness, basic_auth


def like_openid_client(value: str) -> str:
    """What openid-client (oauth4webapi's ``formUrlEncode``) sends: every
    character but ``[A-Za-z0-9]`` percent-encoded as UTF-8, ``-`` as ``%2D``
    and ``_`` as ``%5F`` included."""
    return "".join(
        character if character.isascii() and character.isalnum() else escaped(character)
        for character in value
    )


def escaped(character: str) -> str:
    return "".join(f"%{byte:02X}" for byte in character.encode())


def every_byte_encoded(value: str) -> str:
    return "".join(escaped(character) for character in value)


def basic(client_id: str, secret: str) -> dict[str, str]:
    joined = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(joined).decode()}


def post(
    h: Harness, endpoint: str, headers: dict[str, str], **form: str
) -> TestResponse:
    return h.client.post(f"/oauth2/{endpoint}", data=form, headers=headers)


def set_secret(h: Harness, client: ClientCredentials, secret: str) -> None:
    """Store ``secret`` for ``client`` (as an app that imported its clients
    from elsewhere might: generated secrets never hold ``%`` or ``+``)."""
    with h.app.app_context():
        h.db.session.execute(
            sa.text(
                "UPDATE oauth2_client SET client_secret_digest = :digest "
                "WHERE client_id = :client_id"
            ),
            {"digest": token_digest(secret), "client_id": client.client_id},
        )
        h.db.session.commit()


def assert_all_endpoints_accept(h: Harness, headers: dict[str, str]) -> None:
    """A password grant, a refresh, an introspection and a revocation, all
    authenticated by ``headers``."""
    granted = post(
        h,
        "token",
        headers,
        grant_type="password",
        username="alice",
        password="wonderland",
        scope="PRODUCTION",
    )
    assert granted.status_code == 200, granted.json
    refreshed = post(
        h,
        "token",
        headers,
        grant_type="refresh_token",
        refresh_token=granted.json["refresh_token"],  # type: ignore[index]
    )
    assert refreshed.status_code == 200, refreshed.json
    tokens = refreshed.json
    assert tokens is not None
    introspected = post(h, "introspect", headers, token=tokens["access_token"])
    assert introspected.status_code == 200, introspected.json
    assert introspected.json is not None and introspected.json["active"] is True
    revoked = post(h, "revoke", headers, token=tokens["refresh_token"])
    assert revoked.status_code == 200, revoked.json
    # The revocation took: the family is gone.
    after = post(h, "introspect", headers, token=tokens["access_token"])
    assert after.json == {"active": False}


def assert_invalid_client(response: TestResponse) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.json is not None and response.json["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize("encode", [like_openid_client, every_byte_encoded])
def test_form_encoded_credentials_at_every_endpoint(
    harness: Harness, encode: object
) -> None:
    client = harness.create_client()
    # Generated secrets hold '-' or '_' (encoded by openid-client) 9 times in 10.
    while not {"-", "_"} & set(client.client_secret or ""):
        client = harness.create_client()
    assert client.client_secret is not None
    assert callable(encode)
    headers = basic(encode(client.client_id), encode(client.client_secret))
    assert headers != basic(client.client_id, client.client_secret)
    assert_all_endpoints_accept(harness, headers)


def test_unencoded_credentials_still_work(harness: Harness) -> None:
    client = harness.create_client()
    assert_all_endpoints_accept(
        harness, {"Authorization": basic_auth(client.client_id, client.client_secret)}
    )


def test_a_secret_with_plus_percent_colon_and_space_must_be_encoded(
    harness: Harness,
) -> None:
    """Form decoding reads ``+`` as a space and ``%XX`` as a byte: such a
    secret works form-encoded (as the RFC says) and not sent raw."""
    client = harness.create_client()
    secret = "a+b c%41:é"
    set_secret(harness, client, secret)
    encoded = basic(client.client_id, quote_plus(secret))
    assert encoded == basic(client.client_id, "a%2Bb+c%2541%3A%C3%A9")
    assert_all_endpoints_accept(harness, encoded)
    raw = basic(client.client_id, secret)
    for endpoint, form in (
        ("token", {"grant_type": "client_credentials"}),
        ("introspect", {"token": "x"}),
        ("revoke", {"token": "x"}),
    ):
        assert_invalid_client(post(harness, endpoint, raw, **form))


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [
        ("{id}", "%FF"),  # not UTF-8 once decoded
        ("{id}", "%00"),  # a NUL
        ("%C3", "{secret}"),
        ("%00", "{secret}"),
        ("+", "{secret}"),  # a space: no such client
        ("", "{secret}"),
    ],
)
def test_malformed_encodings_are_invalid_client(
    harness: Harness, client_id: str, secret: str
) -> None:
    client = harness.create_client()
    assert client.client_secret is not None
    headers = basic(
        client_id.format(id=client.client_id),
        secret.format(secret=client.client_secret),
    )
    for endpoint, form in (
        ("token", {"grant_type": "client_credentials"}),
        ("introspect", {"token": "x"}),
        ("revoke", {"token": "x"}),
    ):
        assert_invalid_client(post(harness, endpoint, headers, **form))
