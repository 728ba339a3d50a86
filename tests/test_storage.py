"""Storage: hashed at rest (a copy of the database yields no usable token or
secret), and every write either whole or not at all."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from flask_refreshgrant import ClientCredentials, RefreshGrant
from flask_refreshgrant.models import RefreshTokenMixin
from flask_refreshgrant.security import generate_token, token_digest
from flask_refreshgrant.store.rows import IssuedTokens
from flask_refreshgrant.store.tokens import TokenStore

from .conftest import Harness, all_stored_text


@contextmanager
def stored_refresh_token(
    harness: Harness, client: ClientCredentials
) -> Iterator[tuple[TokenStore, RefreshTokenMixin]]:
    """A fresh grant's refresh token as storage reads it, in an app context."""
    first = harness.password_grant(client).json
    assert first is not None
    with harness.app.app_context():
        store = RefreshGrant.state().store
        token = store.find_refresh_token(first["refresh_token"])
        assert token is not None
        yield store, token


def new_tokens(*, renewed: bool) -> IssuedTokens:
    """What a refresh grant would hand to storage (with a successor if
    ``renewed``)."""
    return IssuedTokens(
        access_token=generate_token(),
        refresh_token=generate_token() if renewed else None,
        scope="profile",
        access_token_expires_in=60,
    )


def test_database_holds_only_digests(harness: Harness) -> None:
    client = harness.create_client()
    first = harness.password_grant(client).json
    assert first is not None
    second = harness.refresh(client, first["refresh_token"]).json
    assert second is not None
    stored = all_stored_text(harness)
    assert client.client_secret is not None
    secrets = [
        client.client_secret,
        first["access_token"],
        first["refresh_token"],
        second["access_token"],
        second["refresh_token"],
    ]
    for secret in secrets:
        assert secret not in stored
        assert token_digest(secret) in stored


def test_digest_lookup_goes_through_a_unique_index(harness: Harness) -> None:
    with harness.app.app_context():
        models = RefreshGrant.state().models
        for model in (models.refresh_token, models.access_token):
            inspector = sa.inspect(harness.db.engine)
            table = model.__tablename__
            constraints = inspector.get_unique_constraints(table)
            indexes = inspector.get_indexes(table)
            assert any(c["column_names"] == ["digest"] for c in constraints) or any(
                i["unique"] and i["column_names"] == ["digest"] for i in indexes
            )


def test_tokens_are_256_bit_random() -> None:
    tokens = {generate_token() for _ in range(1000)}
    assert len(tokens) == 1000
    assert all(len(t) == 43 for t in tokens)  # 32 bytes, URL-safe base64


def test_tables_are_named_oauth2(harness: Harness) -> None:
    names = {t.name for t in harness.db.metadata.sorted_tables}
    assert names == {
        "app_user",
        "oauth2_client",
        "oauth2_refresh_token",
        "oauth2_access_token",
        "oauth2_authorization_code",
        "oauth2_password_lockout",
        "oauth2_dpop_proof",
        "oauth2_signing_key",
        "oauth2_registration_token",
        "oauth2_registration_limit",
    }


def test_every_refresh_row_records_its_family_and_times(harness: Harness) -> None:
    client = harness.create_client()
    first = harness.password_grant(client).json
    assert first is not None
    harness.refresh(client, first["refresh_token"])
    with harness.app.app_context():
        model = RefreshGrant.state().models.refresh_token
        rows = harness.db.session.scalars(sa.select(model).order_by(model.id)).all()
        assert len(rows) == 2
        assert rows[0].family_id == rows[1].family_id
        assert rows[1].parent_id == rows[0].id
        assert rows[0].rotated_at is not None and rows[1].rotated_at is None
        assert all(r.issued_at and r.expires_at and r.revoked_at is None for r in rows)


def test_a_rotation_that_lost_the_race_writes_nothing(harness: Harness) -> None:
    """``Storage.rotate`` on a token already rotated (by a concurrent request,
    say) returns False and leaves every table as it was."""
    with stored_refresh_token(harness, harness.create_client()) as (store, old):
        now = int(harness.clock.now)
        renewed = new_tokens(renewed=True)
        assert store.rotate(old, renewed, now=now, expires_at=now + 60)
        before = all_stored_text(harness)
        again = new_tokens(renewed=True)
        assert not store.rotate(old, again, now=now + 1, expires_at=now + 61)
        assert all_stored_text(harness) == before


def test_a_rotating_refresh_reads_once_and_writes_in_one_transaction(
    harness: Harness,
) -> None:
    """The statements of one rotating refresh: the token joined with its
    client, the app's ``load_user``, then the rotation — one statement on
    PostgreSQL (data-modifying CTEs), a conditional UPDATE and two INSERTs
    elsewhere — and one commit."""
    client = harness.create_client()
    first = harness.password_grant(client).json
    assert first is not None
    statements: list[str] = []
    with harness.app.app_context():
        engine = harness.db.engine

    def record(*args: object) -> None:
        statements.append(str(args[2]).split(None, 1)[0].upper())

    def record_commit(*args: object) -> None:
        statements.append("COMMIT")

    sa.event.listen(engine, "before_cursor_execute", record)
    sa.event.listen(engine, "commit", record_commit)
    try:
        second = harness.refresh(client, first["refresh_token"])
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
        sa.event.remove(engine, "commit", record_commit)
    assert second.status_code == 200
    if engine.dialect.name == "postgresql":
        assert statements == ["SELECT", "SELECT", "WITH", "COMMIT"]
    else:
        assert statements == [
            "SELECT",
            "SELECT",
            "UPDATE",
            "INSERT",
            "INSERT",
            "COMMIT",
        ]


def test_the_joined_lookup_reads_token_and_client_as_the_orm_does(
    harness: Harness,
) -> None:
    """The refresh grant's one SELECT of the token and its client selects
    fewer columns than the two rows have (the digest and client id it
    already knows, client columns a refresh never reads); every attribute
    still reads as the ORM's own query loads it, the ones not selected on
    first read."""
    client = harness.create_client(redirect_uris=["https://app.example/cb"])
    first = harness.password_grant(client).json
    assert first is not None
    models = RefreshGrant.state(harness.app).models

    def columns(instance: object) -> dict[str, object]:
        return {
            attribute.key: getattr(instance, attribute.key)
            for attribute in sa.inspect(type(instance)).column_attrs
        }

    with harness.app.app_context():
        store = RefreshGrant.state().store
        token = store.find_refresh_token_and_client(first["refresh_token"])
        assert token is not None
        loaded = store.get_client(client.client_id)
        assert loaded is not None and not harness.db.session.dirty
        joined = (columns(token), columns(loaded))
        harness.db.session.expunge_all()
        by_orm = (
            columns(
                harness.db.session.scalars(
                    sa.select(models.refresh_token).filter_by(id=token.id)
                ).one()
            ),
            columns(
                harness.db.session.scalars(
                    sa.select(models.client).filter_by(client_id=client.client_id)
                ).one()
            ),
        )
    assert joined == by_orm
    assert joined[1]["redirect_uris"] == "https://app.example/cb"


def test_no_access_token_for_a_refresh_token_revoked_since_it_was_read(
    harness: Harness,
) -> None:
    """Renewal off: the access token is written only if its refresh token is
    still live at the write, so a revocation that lands between the
    request's read and its write leaves nothing behind."""
    client = harness.create_client(renew_refresh_token=False)
    with stored_refresh_token(harness, client) as (store, read):
        store.revoke_family(read.family_id, now=int(harness.clock.now), reason="cli")
        before = all_stored_text(harness)
        issued = new_tokens(renewed=False)
        assert not store.issue_access_token(read, issued, now=int(harness.clock.now))
        assert all_stored_text(harness) == before
