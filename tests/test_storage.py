"""Hashed storage: a copy of the database yields no usable token or secret."""

from __future__ import annotations

import sqlalchemy as sa

from flask_refreshgrant import RefreshGrant
from flask_refreshgrant.security import generate_token, token_digest

from .conftest import Harness


def all_stored_text(h: Harness) -> str:
    """Every value of every row of every table, as one string."""
    with h.app.app_context():
        chunks: list[str] = []
        for table in h.db.metadata.sorted_tables:
            for row in h.db.session.execute(sa.select(table)):
                chunks.extend(str(value) for value in row)
        return "\n".join(chunks)


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
