"""The audit's reads: counts of every token and code by status, and the rows
that break the storage invariants (SPEC §6) — a family with two live refresh
tokens, a token still usable after its family's revocation, a token row
without a family.

Nothing here runs on the token endpoint's hot path; each check is one
aggregate ``SELECT``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import BigInteger, and_, case, func, literal, or_, select
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from .base import StoreBase


@dataclasses.dataclass(frozen=True)
class FamilyFault:
    """One row (or family) that breaks an invariant, as read."""

    #: Which table: ``refresh_token`` or ``access_token``.
    table: str
    family_id: str | None
    #: The token's row id (``None`` for a whole family).
    token_id: int | None
    #: How many rows (the live refresh tokens of a forked family; else 1).
    count: int = 1


_Time = ColumnElement[Any] | InstrumentedAttribute[Any]


def _least(a: _Time, b: _Time) -> ColumnElement[Any]:
    """The smaller of two nullable times, ``NULL`` meaning "never"."""
    return case(
        (a.is_(None), b),
        (b.is_(None), a),
        (a < b, a),
        else_=b,
    )


class AuditReads(StoreBase):
    """Reads of one app's tokens for :func:`..management.operations.audit`."""

    def refresh_token_counts(
        self, *, now: int, absolute_lifetime: int | None
    ) -> dict[str, int]:
        """Refresh tokens by status (``live``, ``rotated``, ``expired``,
        ``revoked``): whichever of rotation, expiry and revocation came first,
        expiry including the absolute lifetime (the client's, else
        ``absolute_lifetime``, the app's), as ``grants show`` says it."""
        refresh, client = self.models.refresh_token, self.models.client
        cap_seconds = func.coalesce(
            client.refresh_token_absolute_lifetime,
            literal(absolute_lifetime, BigInteger),
        )
        expiry = _least(refresh.expires_at, refresh.family_issued_at + cap_seconds)
        expired = and_(expiry.is_not(None), expiry <= now)
        status = case(
            (
                and_(
                    refresh.rotated_at.is_not(None),
                    or_(~expired, refresh.rotated_at <= expiry),
                    or_(
                        refresh.revoked_at.is_(None),
                        refresh.rotated_at <= refresh.revoked_at,
                    ),
                ),
                "rotated",
            ),
            (
                and_(
                    expired,
                    or_(refresh.revoked_at.is_(None), expiry <= refresh.revoked_at),
                ),
                "expired",
            ),
            (refresh.revoked_at.is_not(None), "revoked"),
            else_="live",
        ).label("status")
        statement = (
            select(status, func.count())
            .select_from(refresh)
            .outerjoin(client, client.client_id == refresh.client_id)
            .group_by(status)
        )
        return self._by_status(statement, ("live", "rotated", "expired", "revoked"))

    def access_token_counts(self, *, now: int) -> dict[str, int]:
        """Access tokens by status: ``live``, ``expired``, ``revoked``
        (whichever of expiry and revocation came first)."""
        access = self.models.access_token
        status = case(
            (
                and_(
                    access.revoked_at.is_not(None),
                    access.revoked_at < access.expires_at,
                ),
                "revoked",
            ),
            (access.expires_at <= now, "expired"),
            else_="live",
        ).label("status")
        statement = select(status, func.count()).select_from(access).group_by(status)
        return self._by_status(statement, ("live", "expired", "revoked"))

    def code_counts(self, *, now: int) -> dict[str, int]:
        """Authorization codes by status: ``live`` (unused, redeemable),
        ``used``, ``expired`` (never used)."""
        code = self.models.authorization_code
        status = case(
            (code.used_at.is_not(None), "used"),
            (code.expires_at <= now, "expired"),
            else_="live",
        ).label("status")
        statement = select(status, func.count()).select_from(code).group_by(status)
        return self._by_status(statement, ("live", "used", "expired"))

    def family_count(self) -> tuple[int, int]:
        """How many families (grants) have refresh tokens stored, and how
        many of them were revoked."""
        refresh = self.models.refresh_token
        total = self.session.scalar(
            select(func.count(func.distinct(refresh.family_id)))
        )
        revoked = self.session.scalar(
            select(func.count(func.distinct(refresh.family_id))).where(
                refresh.revoked_at.is_not(None)
            )
        )
        return total or 0, revoked or 0

    def forked_families(self) -> list[FamilyFault]:
        """Families with more than one refresh token that is neither rotated
        out nor revoked: a rotation that let two successors through (expired
        ones count too: each was live once, side by side)."""
        refresh = self.models.refresh_token
        statement = (
            select(refresh.family_id, func.count())
            .where(refresh.rotated_at.is_(None), refresh.revoked_at.is_(None))
            .group_by(refresh.family_id)
            .having(func.count() > 1)
            .order_by(refresh.family_id)
        )
        return [
            FamilyFault("refresh_token", family_id, None, count)
            for family_id, count in self.session.execute(statement)
        ]

    def usable_after_revocation(self) -> list[FamilyFault]:
        """Tokens of a revoked family that were not revoked with it.

        A family's revocation stamps every one of its rows, refresh and
        access, at one time (the earliest ``revoked_at`` of its refresh
        tokens). A refresh token of that family not stamped by then, or an
        access token not expired by then and not stamped by then, could
        still be used after the family ended.
        """
        refresh, access = self.models.refresh_token, self.models.access_token
        revoked = (
            select(
                refresh.family_id.label("family_id"),
                func.min(refresh.revoked_at).label("revoked_at"),
            )
            .where(refresh.revoked_at.is_not(None))
            .group_by(refresh.family_id)
            .subquery()
        )
        refresh_rows = (
            select(refresh.family_id, refresh.id)
            .join(revoked, revoked.c.family_id == refresh.family_id)
            .where(
                or_(
                    refresh.revoked_at.is_(None),
                    refresh.revoked_at > revoked.c.revoked_at,
                )
            )
            .order_by(refresh.id)
        )
        access_rows = (
            select(access.family_id, access.id)
            .join(revoked, revoked.c.family_id == access.family_id)
            .where(
                access.expires_at > revoked.c.revoked_at,
                or_(
                    access.revoked_at.is_(None),
                    access.revoked_at > revoked.c.revoked_at,
                ),
            )
            .order_by(access.id)
        )
        return [
            FamilyFault("refresh_token", family_id, token_id)
            for family_id, token_id in self.session.execute(refresh_rows)
        ] + [
            FamilyFault("access_token", family_id, token_id)
            for family_id, token_id in self.session.execute(access_rows)
        ]

    def tokens_without_family(self) -> list[FamilyFault]:
        """Refresh tokens with no family id, and access tokens naming a
        family of which no refresh token is stored. (An access token issued
        without a refresh token — client credentials — has no family, by
        design.)"""
        refresh, access = self.models.refresh_token, self.models.access_token
        refresh_rows = (
            select(refresh.id)
            .where(or_(refresh.family_id.is_(None), refresh.family_id == ""))
            .order_by(refresh.id)
        )
        known = select(refresh.id).where(refresh.family_id == access.family_id)
        access_rows = (
            select(access.family_id, access.id)
            .where(access.family_id.is_not(None), ~known.exists())
            .order_by(access.id)
        )
        return [
            FamilyFault("refresh_token", None, token_id)
            for token_id in self.session.scalars(refresh_rows)
        ] + [
            FamilyFault("access_token", family_id, token_id)
            for family_id, token_id in self.session.execute(access_rows)
        ]

    def _by_status(self, statement: Any, statuses: tuple[str, ...]) -> dict[str, int]:
        counts = dict.fromkeys(statuses, 0)
        for status, count in self.session.execute(statement):
            counts[status] = count
        return counts
