"""Operators' reads of grants (token families): which exist, their newest
refresh token, how often they were refreshed, every token of one family.

Nothing here runs on the token endpoint's hot path.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import func, or_, select

from ..models import ClientMixin, RefreshTokenMixin
from .base import StoreBase


@dataclasses.dataclass(frozen=True)
class FamilyRow:
    """One token family as read from the database."""

    #: Its newest refresh token (the live one, while the grant is active).
    head: RefreshTokenMixin
    #: Its client; ``None`` once the client has been deleted.
    client: ClientMixin | None
    #: How many refresh tokens the family has (one more per rotation).
    refresh_tokens: int
    #: How many of its access tokens are still stored (one per grant or
    #: refresh; ``purge`` deletes expired ones).
    access_tokens: int
    #: When its newest token, refresh or access, was issued.
    last_issued_at: int


class GrantReads(StoreBase):
    """Reads of one app's token families."""

    def families(
        self,
        *,
        family_id: str | None = None,
        user_id: str | None = None,
        client_id: str | None = None,
        live_at: int | None = None,
    ) -> list[FamilyRow]:
        """The families matching every criterion given, oldest first.

        ``live_at``: only families whose newest refresh token is neither
        revoked nor past its own expiry at that time (the absolute lifetime,
        a policy matter, is left to the caller).
        """
        refresh, access = self.models.refresh_token, self.models.access_token
        client = self.models.client
        criteria = {"family_id": family_id, "user_id": user_id, "client_id": client_id}
        given = {name: value for name, value in criteria.items() if value is not None}
        heads = (
            select(
                func.max(refresh.id).label("head_id"),
                func.min(refresh.id).label("first_id"),
                func.count().label("count"),
                func.max(refresh.issued_at).label("last"),
            )
            .where(*(getattr(refresh, k) == v for k, v in given.items()))
            .group_by(refresh.family_id)
            .subquery()
        )
        accesses = (
            select(
                access.family_id,
                func.count().label("count"),
                func.max(access.issued_at).label("last"),
            )
            .where(access.family_id.is_not(None))
            .where(*(getattr(access, k) == v for k, v in given.items()))
            .group_by(access.family_id)
            .subquery()
        )
        statement: Any = (
            select(
                refresh,
                client,
                heads.c.count,
                heads.c.last,
                accesses.c.count,
                accesses.c.last,
            )
            .join(heads, refresh.id == heads.c.head_id)
            .outerjoin(client, client.client_id == refresh.client_id)
            .outerjoin(accesses, accesses.c.family_id == refresh.family_id)
            .order_by(refresh.family_issued_at, heads.c.first_id)
        )
        if live_at is not None:
            statement = statement.where(
                refresh.revoked_at.is_(None),
                refresh.rotated_at.is_(None),
                or_(refresh.expires_at.is_(None), refresh.expires_at > live_at),
            )
        return [
            FamilyRow(
                head=head,
                client=found_client,
                refresh_tokens=refresh_count,
                access_tokens=access_count or 0,
                last_issued_at=max(refresh_last, access_last or refresh_last),
            )
            for (
                head,
                found_client,
                refresh_count,
                refresh_last,
                access_count,
                access_last,
            ) in self.session.execute(statement)
        ]

    def family_tokens(self, family_id: str) -> list[RefreshTokenMixin]:
        """Every refresh token of a family, in issue order."""
        refresh = self.models.refresh_token
        return list(
            self.session.scalars(
                select(refresh)
                .where(refresh.family_id == family_id)
                .order_by(refresh.id)
            )
        )
