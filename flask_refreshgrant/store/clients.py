"""Operators' reads and writes of registered clients: listing, updating,
replacing the secret, deleting. Registration itself is in :mod:`.admin`.

Nothing here runs on the token endpoint's hot path.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..models import ClientMixin
from ..reasons import CLIENT_DELETED
from ..security import generate_token, token_digest
from .base import StoreBase, rowcount


class ClientAdmin(StoreBase):
    """Reads and writes of one app's client rows."""

    def find_client(self, client_id: str) -> ClientMixin | None:
        client = self.models.client
        return self.session.scalars(
            select(client).where(client.client_id == client_id)
        ).first()

    def all_clients(self) -> list[ClientMixin]:
        """Every client, oldest first."""
        client = self.models.client
        return list(
            self.session.scalars(select(client).order_by(client.created_at, client.id))
        )

    def update_client(self, client_id: str, values: dict[str, Any]) -> bool:
        """Set ``values`` (columns by name) on a client; whether it exists."""
        client = self.models.client
        with self.transaction() as session:
            found = self._lock(session, client_id)
            if found is None:
                return False
            if values:
                rowcount(
                    session,
                    update(client).where(client.id == found).values(**values),
                )
        self.session.expire_all()
        return True

    def replace_secret(
        self, client_id: str, *, keep_old_until: int | None
    ) -> str | None:
        """Give a confidential client a new server-generated secret and
        return it (``None``: no such client). With ``keep_old_until``, the
        replaced secret stays accepted until then; else it stops at once.

        Only the digests are stored. A secret kept from an earlier rotation
        is dropped: at most one old secret is accepted at a time.
        """
        client = self.models.client
        secret = generate_token()
        with self.transaction() as session:
            found = self._lock(session, client_id)
            if found is None:
                return None
            current = session.scalar(
                select(client.client_secret_digest).where(client.id == found)
            )
            keep = keep_old_until is not None
            rowcount(
                session,
                update(client)
                .where(client.id == found)
                .values(
                    client_secret_digest=token_digest(secret),
                    previous_secret_digest=current if keep else None,
                    previous_secret_expires_at=keep_old_until,
                ),
            )
        self.session.expire_all()
        return secret

    def delete_client(self, client_id: str, *, now: int) -> int | None:
        """Revoke every token of the client (reason ``client_deleted``),
        delete its authorization codes and then the client itself, in one
        transaction. How many tokens were revoked; ``None``: no such client.

        The revoked token rows stay (``grants show`` still tells their story)
        until ``purge``; they can never be used, since their client is gone.
        """
        client, code = self.models.client, self.models.authorization_code
        with self.transaction() as session:
            found = self._lock(session, client_id)
            if found is None:
                return None
            revoked = self.revoke_in(session, now, CLIENT_DELETED, client_id=client_id)
            rowcount(session, delete(code).where(code.client_id == client_id))
            rowcount(session, delete(client).where(client.id == found))
        self.session.expire_all()
        return revoked

    def _lock(self, session: Session, client_id: str) -> int | None:
        """The row id of client ``client_id``, locked for this transaction
        (on databases with row locks); ``None``: no such client."""
        client = self.models.client
        found: int | None = session.scalar(
            select(client.id).where(client.client_id == client_id).with_for_update()
        )
        return found
