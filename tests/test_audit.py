"""``flask oauth2 audit`` and ``RefreshGrant.audit()``: counts by status, and
every broken storage invariant reported (rows broken by writing them directly)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from flask_refreshgrant import AuditReport, AuditViolation, RefreshGrant
from flask_refreshgrant.security import token_digest

from .conftest import START, Harness, basic_auth, oauth2_cli


def tokens(h: Harness, client: Any = None) -> tuple[Any, dict[str, Any]]:
    client = client or h.create_client()
    body = h.password_grant(client).json
    assert body is not None
    return client, body


def audit_json(h: Harness, exit_code: int = 0) -> dict[str, Any]:
    result = oauth2_cli(h, "audit", "--json")
    assert result.exit_code == exit_code, (result.output, result.exception)
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def write(h: Harness, table: str, digest_of: str, **values: Any) -> None:
    """Change one token row directly, as a bug (or a hand) would."""
    with h.app.app_context():
        models = RefreshGrant.state().models
        model = getattr(models, table)
        h.db.session.execute(
            sa.update(model)
            .where(model.digest == token_digest(digest_of))
            .values(**values)
        )
        h.db.session.commit()


def family_of(h: Harness, refresh_token: str) -> str:
    with h.app.app_context():
        model = RefreshGrant.state().models.refresh_token
        family: str = h.db.session.scalars(
            sa.select(model.family_id).where(
                model.digest == token_digest(refresh_token)
            )
        ).one()
        return family


def row_id(h: Harness, table: str, token: str) -> int:
    with h.app.app_context():
        model = getattr(RefreshGrant.state().models, table)
        found: int = h.db.session.scalars(
            sa.select(model.id).where(model.digest == token_digest(token))
        ).one()
        return found


def test_a_clean_database_passes_with_counts_by_status(harness: Harness) -> None:
    client, first = tokens(harness)
    second = harness.refresh(client, first["refresh_token"]).json
    assert second is not None
    _, other = tokens(harness, client)
    revoked = harness.client.post(
        "/oauth2/revoke",
        data={"token": other["refresh_token"]},
        headers={"Authorization": basic_auth(client.client_id, client.client_secret)},
    )
    assert revoked.status_code == 200
    harness.clock.advance(3600)  # the first two access tokens have expired

    document = audit_json(harness)
    assert document == {
        "checked_at": START + 3600,
        "clean": True,
        "counts": {
            "refresh_tokens": {"live": 1, "rotated": 1, "expired": 0, "revoked": 1},
            "access_tokens": {"live": 0, "expired": 2, "revoked": 1},
            "authorization_codes": {"live": 0, "used": 0, "expired": 0},
            "grants": 2,
            "revoked_grants": 1,
        },
        "violations": [],
    }
    text = oauth2_cli(harness, "audit")
    assert text.exit_code == 0
    assert "refresh tokens: 3 (1 live, 1 rotated, 0 expired, 1 revoked)" in text.output
    assert "no violations" in text.output

    with harness.app.app_context():
        report = harness.oauth.audit()
    assert isinstance(report, AuditReport)
    assert report.clean
    assert report.as_json() == document


def test_an_empty_database_passes(harness: Harness) -> None:
    document = audit_json(harness)
    assert document["clean"] is True
    assert document["counts"]["grants"] == 0


def test_expiry_counts_the_absolute_lifetime(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(OAUTH2_REFRESH_TOKEN_ABSOLUTE_LIFETIME=600)
    h.create_user()
    tokens(h)
    assert audit_json(h)["counts"]["refresh_tokens"]["live"] == 1
    h.clock.advance(600)
    counts = audit_json(h)["counts"]["refresh_tokens"]
    assert counts == {"live": 0, "rotated": 0, "expired": 1, "revoked": 0}


def test_a_family_with_two_live_refresh_tokens_is_reported(harness: Harness) -> None:
    client, first = tokens(harness)
    second = harness.refresh(client, first["refresh_token"]).json
    assert second is not None
    # The rotated-out token comes back to life: a rotation that forked.
    write(harness, "refresh_token", first["refresh_token"], rotated_at=None)

    document = audit_json(harness, exit_code=1)
    assert document["clean"] is False
    assert document["violations"] == [
        {
            "kind": "two_live_refresh_tokens",
            "table": "refresh_token",
            "grant_id": family_of(harness, first["refresh_token"]),
            "token_id": None,
            "count": 2,
        }
    ]
    text = oauth2_cli(harness, "audit")
    assert text.exit_code == 1
    assert "1 violations:" in text.output
    assert "grant has more than one live refresh token" in text.output


def test_tokens_left_live_after_their_family_was_revoked_are_reported(
    harness: Harness,
) -> None:
    client, first = tokens(harness)
    second = harness.refresh(client, first["refresh_token"]).json
    assert second is not None
    assert harness.refresh(client, first["refresh_token"]).status_code == 400  # reuse
    family = family_of(harness, first["refresh_token"])
    assert audit_json(harness)["counts"]["revoked_grants"] == 1
    # Undo the revocation of the newest refresh token and of one access token.
    write(harness, "refresh_token", second["refresh_token"], revoked_at=None)
    write(harness, "access_token", first["access_token"], revoked_at=None)

    with harness.app.app_context():
        report = harness.oauth.audit()
    assert not report.clean
    assert set(report.violations) == {
        AuditViolation(
            "usable_after_revocation",
            "refresh_token",
            family,
            row_id(harness, "refresh_token", second["refresh_token"]),
        ),
        AuditViolation(
            "usable_after_revocation",
            "access_token",
            family,
            row_id(harness, "access_token", first["access_token"]),
        ),
    }
    assert audit_json(harness, exit_code=1)["clean"] is False


def test_an_access_token_expired_before_the_revocation_is_not_a_violation(
    harness: Harness,
) -> None:
    _, first = tokens(harness)
    harness.clock.advance(3601)
    with harness.app.app_context():
        grant_id = harness.oauth.list_grants()[0].grant_id
        harness.oauth.revoke_grant(grant_id)
    # Not stamped, but it had expired before its family was revoked.
    write(harness, "access_token", first["access_token"], revoked_at=None)
    assert audit_json(harness)["clean"] is True


def test_tokens_without_a_family_are_reported(harness: Harness) -> None:
    _, first = tokens(harness)
    _, second = tokens(harness)
    write(harness, "access_token", first["access_token"], family_id="no-such-family")
    write(harness, "refresh_token", second["refresh_token"], family_id="")

    violations = audit_json(harness, exit_code=1)["violations"]
    kinds = {(v["kind"], v["table"], v["grant_id"]) for v in violations}
    assert ("token_without_family", "access_token", "no-such-family") in kinds
    assert ("token_without_family", "refresh_token", None) in kinds
    # The second grant's access token now names a family with no refresh token.
    assert len(violations) == 3


def test_client_credentials_tokens_need_no_family(harness: Harness) -> None:
    client = harness.create_client(grant_types=("client_credentials",))
    response = harness.token({"grant_type": "client_credentials"}, client)
    assert response.status_code == 200
    document = audit_json(harness)
    assert document["clean"] is True
    assert document["counts"]["access_tokens"]["live"] == 1


def test_purge_keeps_a_family_while_one_of_its_access_tokens_lives(
    make_harness: Callable[..., Harness],
) -> None:
    """A refresh token shorter-lived than its access token: purging it alone
    would leave a live access token without its family, out of reach of the
    family's audit."""
    h = make_harness(OAUTH2_REFRESH_TOKEN_VALIDITY_PERIOD=60)
    h.create_user()
    _, first = tokens(h)
    h.clock.advance(61)
    assert oauth2_cli(h, "purge").exit_code == 0
    assert audit_json(h)["clean"] is True
    bearer = {"Authorization": f"Bearer {first['access_token']}"}
    assert h.client.get("/api/ping", headers=bearer).status_code == 200
    h.clock.advance(3600)
    purged = oauth2_cli(h, "purge")
    assert "deleted 1 access tokens, 1 refresh tokens" in purged.output
    assert audit_json(h)["counts"]["grants"] == 0
