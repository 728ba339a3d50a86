"""Managing grants (token families, SPEC §7.1): list, history, revoke — from
Python and from ``flask oauth2 grants`` — and why each family was revoked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from flask_refreshgrant import (
    ClientCredentials,
    GrantHistory,
    GrantRecord,
    NotFoundError,
    signals,
)
from flask_refreshgrant.records import RefreshTokenRecord

from .conftest import (
    INVALID_REFRESH,
    START,
    Harness,
    basic_auth,
    listen_to,
    oauth2_cli,
    oauth2_json,
)

GRANT_KEYS = {
    "grant_id",
    "client_id",
    "client_name",
    "user_id",
    "scope",
    "created_at",
    "last_refreshed_at",
    "refresh_count",
    "expires_at",
    "status",
}
TOKEN_KEYS = {"issued_at", "expires_at", "rotated_at", "revoked_at", "status"}
DAY = 86400


def tokens(h: Harness, client: ClientCredentials) -> dict[str, Any]:
    body: dict[str, Any] | None = h.password_grant(client).json
    assert body is not None
    return body


def refreshed(h: Harness, client: ClientCredentials, refresh_token: str) -> str:
    body = h.refresh(client, refresh_token).json
    assert body is not None, "refresh failed"
    token: str = body["refresh_token"]
    return token


def grants(h: Harness, **kwargs: Any) -> list[GrantRecord]:
    with h.app.app_context():
        return h.oauth.list_grants(**kwargs)


def history(h: Harness, grant_id: str) -> GrantHistory:
    with h.app.app_context():
        return h.oauth.grant_history(grant_id)


def only_grant_id(h: Harness) -> str:
    (grant,) = grants(h, include_inactive=True)
    return grant.grant_id


# -- list ----------------------------------------------------------------------


def test_a_grant_before_and_after_refreshes(harness: Harness) -> None:
    client = harness.create_client()
    first = tokens(harness, client)
    (grant,) = grants(harness)
    assert grant == GrantRecord(
        grant_id=grant.grant_id,
        client_id=client.client_id,
        client_name="test",
        user_id="1",
        scope="PRODUCTION SANDBOX",
        created_at=START,
        last_refreshed_at=None,
        refresh_count=0,
        expires_at=START + DAY,
        status="active",
    )
    harness.clock.advance(100)
    second = refreshed(harness, client, first["refresh_token"])
    harness.clock.advance(50)
    refreshed(harness, client, second)
    (grant,) = grants(harness)
    assert grant.refresh_count == 2
    assert grant.last_refreshed_at == START + 150
    assert grant.expires_at == START + 150 + DAY
    assert grant.created_at == START

    listed = oauth2_json(harness, "grants", "list")
    assert listed == [grant.as_json()]
    assert set(listed[0]) == GRANT_KEYS


def test_renewal_off_counts_refreshes_by_their_access_tokens(
    harness: Harness,
) -> None:
    client = harness.create_client(renew_refresh_token=False)
    first = tokens(harness, client)
    for _ in range(3):
        harness.clock.advance(10)
        assert (
            refreshed(harness, client, first["refresh_token"])
            == (first["refresh_token"])
        )
    (grant,) = grants(harness)
    assert grant.refresh_count == 3
    assert grant.last_refreshed_at == START + 30
    assert grant.expires_at == START + DAY  # not renewed
    (only,) = history(harness, grant.grant_id).tokens
    assert only.status == "live"


def test_expires_at_includes_the_absolute_lifetime(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(OAUTH2_REFRESH_TOKEN_ABSOLUTE_LIFETIME=1000)
    h.create_user()
    client = h.create_client()
    first = tokens(h, client)
    h.clock.advance(600)
    refreshed(h, client, first["refresh_token"])
    (grant,) = grants(h)
    assert grant.expires_at == START + 1000
    h.clock.advance(400)
    assert grants(h) == []
    (expired,) = grants(h, include_inactive=True)
    assert expired.status == "expired"
    assert [t.status for t in history(h, expired.grant_id).tokens] == [
        "rotated",
        "expired",
    ]


def test_never_expiring_grants_have_no_expiry(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(OAUTH2_REFRESH_TOKEN_VALIDITY_PERIOD=-1)
    h.create_user()
    tokens(h, h.create_client())
    (grant,) = oauth2_json(h, "grants", "list")
    assert grant["expires_at"] is None
    assert "never" in oauth2_cli(h, "grants", "list").stdout


def test_filters_and_inactive_grants(harness: Harness) -> None:
    bob = harness.create_user("bob", "builder")
    a = harness.create_client()
    b = harness.create_client()
    alice_a = tokens(harness, a)
    tokens(harness, b)
    bob_a = harness.token(
        {"grant_type": "password", "username": "bob", "password": "builder"}, a
    ).json
    assert bob_a is not None
    assert len(grants(harness)) == 3
    assert {g.user_id for g in grants(harness, client_id=a.client_id)} == {
        "1",
        str(bob),
    }
    assert [g.client_id for g in grants(harness, user_id="1")] == [
        a.client_id,
        b.client_id,
    ]
    assert len(grants(harness, user_id="1", client_id=b.client_id)) == 1
    # An app may pass its user ids as they are.
    assert len(grants(harness, user_id=bob)) == 1

    harness.refresh(a, alice_a["refresh_token"])
    harness.refresh(a, alice_a["refresh_token"])  # reuse: the family is revoked
    active = grants(harness, user_id="1")
    assert [g.client_id for g in active] == [b.client_id]
    every = grants(harness, user_id="1", include_inactive=True)
    assert [g.status for g in every] == ["revoked", "active"]

    listed = oauth2_json(harness, "grants", "list", "--user-id", "1", "--all")
    assert [g["status"] for g in listed] == ["revoked", "active"]
    by_client = oauth2_json(harness, "grants", "list", "--client-id", b.client_id)
    assert [g["client_id"] for g in by_client] == [b.client_id]
    assert oauth2_json(harness, "grants", "list", "--user-id", "nobody") == []


def test_grants_list_as_text(harness: Harness) -> None:
    assert oauth2_cli(harness, "grants", "list").stdout == "no active grants\n"
    assert oauth2_cli(harness, "grants", "list", "--all").stdout == "no grants\n"
    client = harness.create_client()
    tokens(harness, client)
    lines = oauth2_cli(harness, "grants", "list").stdout.splitlines()
    assert lines[0].split()[:4] == ["GRANT_ID", "CLIENT", "USER", "STATUS"]
    assert lines[1].split()[1:4] == ["test", "1", "active"]


# -- history -------------------------------------------------------------------


def test_history_of_a_rotating_family_and_its_reuse(harness: Harness) -> None:
    client = harness.create_client()
    first = tokens(harness, client)
    harness.clock.advance(10)
    second = refreshed(harness, client, first["refresh_token"])
    harness.clock.advance(10)
    refreshed(harness, client, second)
    grant_id = only_grant_id(harness)
    before = history(harness, grant_id)
    assert before.tokens == (
        RefreshTokenRecord(START, START + DAY, START + 10, None, "rotated"),
        RefreshTokenRecord(START + 10, START + 10 + DAY, START + 20, None, "rotated"),
        RefreshTokenRecord(START + 20, START + 20 + DAY, None, None, "live"),
    )
    assert (before.revoked_at, before.revoked_reason) == (None, None)

    harness.clock.advance(5)
    assert harness.refresh(client, first["refresh_token"]).json == INVALID_REFRESH
    after = oauth2_json(harness, "grants", "show", grant_id)
    assert set(after) == GRANT_KEYS | {"revoked_at", "revoked_reason", "tokens"}
    assert all(set(t) == TOKEN_KEYS for t in after["tokens"])
    assert [t["status"] for t in after["tokens"]] == ["rotated", "rotated", "revoked"]
    assert after["tokens"][2]["revoked_at"] == START + 25
    assert after["status"] == "revoked"
    assert after["revoked_reason"] == "reuse_detected"
    assert after["revoked_at"] == START + 25
    assert after["refresh_count"] == 2


def test_a_token_that_expired_before_its_revocation_shows_expired(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(OAUTH2_REFRESH_TOKEN_VALIDITY_PERIOD=100)
    h.create_user()
    client = h.create_client()
    tokens(h, client)
    h.clock.advance(200)
    assert oauth2_cli(h, "revoke", "--user-id", "1").exit_code == 0
    shown = history(h, only_grant_id(h))
    assert [t.status for t in shown.tokens] == ["expired"]
    assert shown.grant.status == "expired"
    assert shown.revoked_reason == "cli"


def test_grants_show_as_text(harness: Harness) -> None:
    client = harness.create_client()
    first = tokens(harness, client)
    refreshed(harness, client, first["refresh_token"])
    grant_id = only_grant_id(harness)
    assert oauth2_cli(harness, "grants", "revoke", grant_id).exit_code == 0
    out = oauth2_cli(harness, "grants", "show", grant_id).stdout
    assert "grant_id:" in out and grant_id in out
    assert "status:" in out and "revoked" in out
    assert "(cli)" in out
    table = out.split("\n\n", 1)[1].splitlines()
    assert table[0].split()[0] == "#"
    assert [line.split()[-1] for line in table[1:]] == ["rotated", "revoked"]


# -- revoke, and why every family was revoked --------------------------------------


def revoked_reason(h: Harness) -> str | None:
    return history(h, only_grant_id(h)).revoked_reason


def test_grants_revoke_on_the_command_line(harness: Harness) -> None:
    client = harness.create_client()
    first = tokens(harness, client)
    grant_id = only_grant_id(harness)
    with listen_to(signals.token_revoked) as sent:
        result = oauth2_json(harness, "grants", "revoke", grant_id)
    assert result == {
        "grant_id": grant_id,
        "revoked_tokens": 2,
        "already_revoked": False,
    }
    assert sent == [
        {
            "client_id": client.client_id,
            "user_id": "1",
            "family_id": grant_id,
            "reason": "cli",
        }
    ]
    assert harness.refresh(client, first["refresh_token"]).json == INVALID_REFRESH
    assert revoked_reason(harness) == "cli"
    # Again: it says so, changes nothing (the reason stays), sends no signal.
    with listen_to(signals.token_revoked) as again:
        text = oauth2_cli(harness, "grants", "revoke", grant_id)
        as_json = oauth2_json(harness, "grants", "revoke", grant_id)
    assert text.exit_code == 0
    assert text.stdout.startswith(f"grant {grant_id} was already revoked at ")
    assert text.stdout.endswith(" UTC (cli); nothing to revoke\n")
    assert as_json == {
        "grant_id": grant_id,
        "revoked_tokens": 0,
        "already_revoked": True,
    }
    assert again == []
    assert revoked_reason(harness) == "cli"


def test_revoke_grant_from_python_records_user(harness: Harness) -> None:
    client = harness.create_client()
    first = tokens(harness, client)
    grant_id = only_grant_id(harness)
    with harness.app.app_context(), listen_to(signals.token_revoked) as sent:
        assert harness.oauth.revoke_grant(grant_id) == 2
    assert [s["reason"] for s in sent] == ["user"]
    assert revoked_reason(harness) == "user"
    assert harness.refresh(client, first["refresh_token"]).json == INVALID_REFRESH


def test_a_user_can_only_revoke_their_own_grant(harness: Harness) -> None:
    bob = harness.create_user("bob", "builder")
    client = harness.create_client()
    first = tokens(harness, client)
    grant_id = only_grant_id(harness)
    with harness.app.app_context():
        with pytest.raises(NotFoundError):
            harness.oauth.revoke_grant(grant_id, user_id=str(bob))
        with pytest.raises(NotFoundError):
            harness.oauth.grant_history(grant_id, user_id=str(bob))
        assert harness.oauth.grant_history(grant_id, user_id="1").grant.user_id == "1"
    assert harness.refresh(client, first["refresh_token"]).status_code == 200
    with harness.app.app_context():
        assert harness.oauth.revoke_grant(grant_id, user_id="1") == 4


def test_every_revocation_path_records_its_reason(harness: Harness) -> None:
    """The revocation endpoint, reuse detection, ``flask oauth2 revoke``,
    ``grants revoke``, ``revoke_grant`` and client deletion each leave their
    reason on the family and send it with ``token_revoked`` — except reuse
    detection, which has its own signal."""
    reasons: dict[str, str | None] = {}
    sent: list[str] = []

    def receiver(sender: object, **kwargs: Any) -> None:
        sent.append(kwargs.get("reason", "reuse signal"))

    signals.token_revoked.connect(receiver)
    signals.refresh_token_reuse_detected.connect(receiver)
    try:
        for path in ("endpoint", "reuse", "cli", "grants-cli", "python", "delete"):
            client = harness.create_client()
            first = tokens(harness, client)
            grant_id = grants(harness, client_id=client.client_id)[0].grant_id
            if path == "endpoint":
                harness.client.post(
                    "/oauth2/revoke",
                    data={"token": first["refresh_token"]},
                    headers={
                        "Authorization": basic_auth(
                            client.client_id, client.client_secret
                        )
                    },
                )
            elif path == "reuse":
                refreshed(harness, client, first["refresh_token"])
                harness.refresh(client, first["refresh_token"])
            elif path == "cli":
                oauth2_cli(harness, "revoke", "--client-id", client.client_id)
            elif path == "grants-cli":
                oauth2_cli(harness, "grants", "revoke", grant_id)
            elif path == "python":
                with harness.app.app_context():
                    harness.oauth.revoke_grant(grant_id)
            else:
                with harness.app.app_context():
                    harness.oauth.delete_client(client.client_id)
            reasons[path] = history(harness, grant_id).revoked_reason
    finally:
        signals.token_revoked.disconnect(receiver)
        signals.refresh_token_reuse_detected.disconnect(receiver)
    assert reasons == {
        "endpoint": "revocation",
        "reuse": "reuse_detected",
        "cli": "cli",
        "grants-cli": "cli",
        "python": "user",
        "delete": "client_deleted",
    }
    assert sent == [
        "revocation",
        "reuse signal",
        "cli",
        "cli",
        "user",
        "client_deleted",
    ]


def test_a_reused_authorization_code_records_reuse_detected(
    harness: Harness,
) -> None:
    """RFC 6749 §4.1.2: the tokens of a code presented twice are revoked."""
    redirect = "https://client.example.com/cb"
    client = harness.create_client(
        grant_types=("authorization_code", "refresh_token"), redirect_uris=[redirect]
    )
    query = (
        f"response_type=code&client_id={client.client_id}"
        f"&redirect_uri={redirect}&scope=PRODUCTION&state=s"
    )
    approved = harness.client.post(
        "/oauth2/authorize?" + query, data={"decision": "approve", "user_id": "1"}
    )
    code = parse_qs(urlsplit(approved.headers["Location"]).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect}
    assert harness.token(form, client).status_code == 200
    with listen_to(signals.token_revoked) as sent:
        assert harness.token(form, client).status_code == 400
    assert [s["reason"] for s in sent] == ["reuse_detected"]
    assert revoked_reason(harness) == "reuse_detected"


# -- unknown ids -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("grants", "show", "nope"), "Error: no grant 'nope'"),
        (("grants", "show", "nope", "--json"), "Error: no grant 'nope'"),
        (("grants", "revoke", "nope"), "Error: no grant 'nope'"),
        (("grants", "list", "--client-id", "nope"), "Error: no client 'nope'"),
        (
            ("grants", "list", "--client-id", "nope", "--json"),
            "Error: no client 'nope'",
        ),
    ],
)
def test_unknown_grant_is_one_line_on_stderr(
    harness: Harness, args: tuple[str, ...], message: str
) -> None:
    result = oauth2_cli(harness, *args)
    assert result.exit_code in (1, 2)
    assert result.stdout == ""
    assert result.stderr.splitlines() == [message]


def test_unknown_grant_raises_not_found_in_python(harness: Harness) -> None:
    with harness.app.app_context():
        with pytest.raises(NotFoundError, match="no grant 'nope'"):
            harness.oauth.grant_history("nope")
        with pytest.raises(NotFoundError, match="no grant 'nope'"):
            harness.oauth.revoke_grant("nope")
        with pytest.raises(NotFoundError, match="no client 'nope'"):
            harness.oauth.list_grants(client_id="nope")
