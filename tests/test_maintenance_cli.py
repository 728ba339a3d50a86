"""``flask oauth2 purge`` and ``flask oauth2 revoke``."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from flask_refreshgrant import RefreshGrant

from .conftest import INVALID_REFRESH, Harness, refresh_row


def counts(h: Harness) -> tuple[int, int]:
    with h.app.app_context():
        models = RefreshGrant.state().models
        access = h.db.session.scalar(
            sa.select(sa.func.count()).select_from(models.access_token)
        )
        refresh = h.db.session.scalar(
            sa.select(sa.func.count()).select_from(models.refresh_token)
        )
        return access or 0, refresh or 0


def run(h: Harness, *args: str) -> str:
    result = h.app.test_cli_runner().invoke(args=["oauth2", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_purge_keeps_live_families_and_their_tombstones(harness: Harness) -> None:
    client = harness.create_client()
    first = harness.password_grant(client).json
    assert first is not None
    second = harness.refresh(client, first["refresh_token"]).json
    assert second is not None
    harness.clock.advance(3600)  # both access tokens have expired
    out = run(harness, "purge")
    assert "deleted 2 access tokens, 0 refresh tokens" in out
    assert counts(harness) == (0, 2)
    # The tombstone still triggers reuse detection.
    assert harness.refresh(client, first["refresh_token"]).json == INVALID_REFRESH
    assert harness.refresh(client, second["refresh_token"]).json == INVALID_REFRESH
    # Now the family is revoked: everything of it goes.
    assert "0 access tokens, 2 refresh tokens" in run(harness, "purge")
    assert counts(harness) == (0, 0)


def test_purge_removes_expired_families(harness: Harness) -> None:
    client = harness.create_client()
    first = harness.password_grant(client).json
    assert first is not None
    harness.refresh(client, first["refresh_token"])
    harness.clock.advance(86400 + 1)
    assert "2 access tokens, 2 refresh tokens" in run(harness, "purge")


def test_purge_older_than_keeps_recent_rows(harness: Harness) -> None:
    client = harness.create_client()
    harness.password_grant(client)
    harness.clock.advance(3600 + 10)
    assert "deleted 0 access tokens" in run(harness, "purge", "--older-than", "60")
    assert "deleted 1 access tokens" in run(harness, "purge", "--older-than", "5")


def test_purge_clears_expired_replay_copies(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(OAUTH2_REFRESH_TOKEN_GRACE_PERIOD=30)
    h.create_user()
    client = h.create_client()
    first = h.password_grant(client).json
    assert first is not None
    h.refresh(client, first["refresh_token"])
    assert "cleared 0 grace-period replay copies" in run(h, "purge")
    h.clock.advance(31)
    assert "cleared 1 grace-period replay copies" in run(h, "purge")
    assert refresh_row(h, first["refresh_token"])["replay"] is None


def test_revoke_by_client_and_by_user(harness: Harness) -> None:
    a = harness.create_client()
    b = harness.create_client()
    ta = harness.password_grant(a).json
    tb = harness.password_grant(b).json
    assert ta is not None and tb is not None
    assert "revoked 2 tokens" in run(harness, "revoke", "--client-id", a.client_id)
    assert harness.refresh(a, ta["refresh_token"]).json == INVALID_REFRESH
    assert harness.refresh(b, tb["refresh_token"]).status_code == 200
    # b: two access tokens, the live refresh token and its rotated-out parent.
    assert "revoked 4 tokens" in run(harness, "revoke", "--user-id", "1")
    assert (
        harness.client.get(
            "/api/ping", headers={"Authorization": "Bearer " + tb["access_token"]}
        ).status_code
        == 401
    )


def test_revoke_needs_a_target(harness: Harness) -> None:
    runner = harness.app.test_cli_runner()
    assert runner.invoke(args=["oauth2", "revoke"]).exit_code != 0
    unknown = runner.invoke(args=["oauth2", "revoke", "--client-id", "nope"])
    assert unknown.exit_code != 0
    assert "nope" in unknown.output
