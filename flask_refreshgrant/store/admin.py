"""Administration: client registration, revocation by client or user, purge.

Nothing here runs on the token endpoint's hot path.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update

from ..security import generate_client_id, generate_token, token_digest
from .audit import AuditReads
from .base import rowcount
from .clients import ClientAdmin
from .grants import GrantReads


@dataclasses.dataclass(frozen=True)
class ClientCredentials:
    """A client's id and, for a confidential client, its secret: shown once,
    never stored in clear (``None`` for a public client)."""

    client_id: str
    client_secret: str | None


@dataclasses.dataclass(frozen=True)
class PurgeCounts:
    """What ``purge`` deleted or cleared."""

    access_tokens: int
    refresh_tokens: int
    authorization_codes: int
    replays: int
    #: Password lock records that would count from zero anyway.
    password_lockouts: int = 0
    #: Used DPoP proofs forgotten (too old to be accepted anyway).
    dpop_proofs: int = 0
    #: Replaced signing keys retired (nothing they signed is valid any more).
    signing_keys: int = 0
    #: Dynamically registered clients that never obtained a token.
    dynamic_clients: int = 0


class AdminStore(ClientAdmin, GrantReads, AuditReads):
    """Operators' reads and writes over one app's models (clients: also
    :class:`~.clients.ClientAdmin`; grants: :class:`~.grants.GrantReads`;
    the audit: :class:`~.audit.AuditReads`)."""

    def create_client(
        self,
        *,
        name: str,
        grant_types: list[str],
        scope: str,
        redirect_uris: list[str],
        public: bool,
        now: int,
        settings: dict[str, Any],
        served_resources: str | None = None,
    ) -> ClientCredentials:
        """Register a client; a confidential one gets a server-generated secret.

        ``settings`` are per-client setting columns (``None``: inherit).
        """
        secret = None if public else generate_token()
        client = self.models.client(
            client_id=generate_client_id(),
            client_secret_digest=None if secret is None else token_digest(secret),
            client_name=name,
            grant_types=" ".join(dict.fromkeys(grant_types)),
            scope=" ".join(dict.fromkeys(scope.split())),
            redirect_uris=" ".join(redirect_uris),
            created_at=now,
            served_resources=served_resources,
            **settings,
        )
        client_id = client.client_id
        with self.transaction() as session:
            session.add(client)
        return ClientCredentials(client_id=client_id, client_secret=secret)

    def client_exists(self, client_id: str) -> bool:
        client = self.models.client
        found = self.session.scalar(
            select(client.id).where(client.client_id == client_id)
        )
        return found is not None

    def revoke_all(
        self,
        *,
        now: int,
        reason: str,
        client_id: str | None = None,
        user_id: str | None = None,
        family_id: str | None = None,
    ) -> int:
        """Revoke every live token of a client, a user or a family (or of
        all that match, given several); how many rows."""
        criteria = {"client_id": client_id, "user_id": user_id, "family_id": family_id}
        return self.revoke_matching(
            now, reason, **{k: v for k, v in criteria.items() if v is not None}
        )

    def purge(self, *, cutoff: int, replay_cutoff: int) -> PurgeCounts:
        """Delete tokens (and codes) expired or revoked before ``cutoff``.

        A rotated-out refresh token is kept while its family still has a live
        token, since reuse detection needs it; it goes with the family. A
        family's refresh tokens stay while one of its access tokens is kept. Grace
        replay copies of rotations before ``replay_cutoff`` are cleared.
        """
        access, refresh = self.models.access_token, self.models.refresh_token
        with self.transaction() as session:
            deleted_access = rowcount(
                session,
                delete(access).where(
                    or_(access.expires_at <= cutoff, access.revoked_at <= cutoff)
                ),
            )
            dead = or_(
                refresh.revoked_at <= cutoff,
                and_(refresh.rotated_at.is_(None), refresh.expires_at <= cutoff),
            )
            # A family whose refresh token ran out before its access token
            # keeps its rows until that access token goes too: no access
            # token is left without its family (``audit``).
            with_access = select(access.family_id).where(access.family_id.is_not(None))
            unreferenced = refresh.family_id.not_in(with_access)
            deleted_refresh = rowcount(
                session, delete(refresh).where(dead, unreferenced)
            )
            live_families = select(refresh.family_id).where(
                refresh.rotated_at.is_(None), refresh.revoked_at.is_(None)
            )
            deleted_refresh += rowcount(
                session,
                delete(refresh).where(
                    refresh.rotated_at.is_not(None),
                    refresh.family_id.not_in(live_families),
                    unreferenced,
                ),
            )
            code = self.models.authorization_code
            codes = rowcount(session, delete(code).where(code.expires_at <= cutoff))
            replays = rowcount(
                session,
                update(refresh)
                .where(refresh.replay.is_not(None), refresh.rotated_at <= replay_cutoff)
                .values(replay=None),
            )
        return PurgeCounts(deleted_access, deleted_refresh, codes, replays)

    def longest_grace_period(self, app_grace_period: int) -> int:
        """The app's grace period or the longest per-client one."""
        client = self.models.client
        longest = self.session.scalar(
            select(func.max(client.refresh_token_grace_period))
        )
        return max(app_grace_period, longest or 0)
