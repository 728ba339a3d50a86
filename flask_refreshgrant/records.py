"""What the management operations return: frozen records of clients, grants
and refresh tokens, each with :meth:`as_json` giving the JSON shape of
``flask oauth2 … --json`` (SPEC §7.1).

Times are whole seconds since the epoch; ``None`` as an expiry means "never
expires", and ``None`` as a per-client setting means "inherits the app's
value". A *grant* is a token family: every refresh token descending from one
authorization (a password or authorization code grant), named by its
``grant_id`` (the tokens' ``family_id``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

from .reasons import RevokedReason

#: ``active``: its refresh token can be used; ``expired``: it ran out;
#: ``revoked``: someone or something ended it (see ``revoked_reason``).
GrantStatus = Literal["active", "expired", "revoked"]

#: How one refresh token of a family ended, if it did: ``rotated`` (replaced
#: by its successor), ``expired`` or ``revoked``; ``live`` while usable.
TokenStatus = Literal["live", "rotated", "expired", "revoked"]


@dataclasses.dataclass(frozen=True)
class ClientRecord:
    """A registered client, without its secret."""

    client_id: str
    name: str
    grant_types: tuple[str, ...]
    scope: str
    redirect_uris: tuple[str, ...]
    public: bool
    created_at: int
    #: Every per-client setting by column name (``refresh_token_validity_period``,
    #: …); ``None``: inherits the app's value.
    settings: Mapping[str, int | bool | None]
    #: After :meth:`~.RefreshGrant.rotate_client_secret` with ``keep_old_for``:
    #: until when the replaced secret is still accepted; else ``None``.
    previous_secret_expires_at: int | None = None
    #: ``"dynamic"``: the client registered itself (RFC 7591); ``None``: an
    #: operator registered it.
    registered_by: str | None = None
    #: The resources (RFC 8707) it serves as a resource server: it may
    #: introspect access tokens for them.
    serves_resources: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "name": self.name,
            "grant_types": list(self.grant_types),
            "scope": self.scope,
            "redirect_uris": list(self.redirect_uris),
            "public": self.public,
            "created_at": self.created_at,
            **self.settings,
            "previous_secret_expires_at": self.previous_secret_expires_at,
            "registered_by": self.registered_by,
            "serves_resources": list(self.serves_resources),
        }


@dataclasses.dataclass(frozen=True)
class GrantRecord:
    """One grant (token family) as ``grants list`` shows it."""

    grant_id: str
    client_id: str
    #: ``None`` once the client has been deleted.
    client_name: str | None
    user_id: str | None
    scope: str
    #: When its first refresh token was issued.
    created_at: int
    #: ``None`` before the first refresh.
    last_refreshed_at: int | None
    refresh_count: int
    #: When its newest refresh token stops working (its own expiry or the
    #: absolute lifetime, whichever comes first); ``None``: never.
    expires_at: int | None
    status: GrantStatus

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class RefreshTokenRecord:
    """One refresh token of a family, in issue order."""

    issued_at: int
    #: When it stops working (incl. the absolute lifetime); ``None``: never.
    expires_at: int | None
    rotated_at: int | None
    revoked_at: int | None
    #: Whichever of rotation, expiry and revocation came first, or ``live``.
    status: TokenStatus

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class GrantHistory:
    """A grant and every refresh token of its family (``grants show``)."""

    grant: GrantRecord
    tokens: tuple[RefreshTokenRecord, ...]
    #: When the family was revoked, and why; ``None`` if it never was.
    revoked_at: int | None
    revoked_reason: RevokedReason | None

    def as_json(self) -> dict[str, Any]:
        return {
            **self.grant.as_json(),
            "revoked_at": self.revoked_at,
            "revoked_reason": self.revoked_reason,
            "tokens": [token.as_json() for token in self.tokens],
        }


#: The invariants ``audit`` checks (SPEC §6): ``two_live_refresh_tokens`` —
#: a family with more than one refresh token neither rotated out nor
#: revoked; ``usable_after_revocation`` — a refresh or access token of a
#: revoked family that was not revoked with it (and had not expired);
#: ``token_without_family`` — a refresh token with no family id, or an access
#: token naming a family of which no refresh token is stored.
AuditViolationKind = Literal[
    "two_live_refresh_tokens", "usable_after_revocation", "token_without_family"
]


@dataclasses.dataclass(frozen=True)
class AuditViolation:
    """One row (or family) that breaks an invariant."""

    kind: AuditViolationKind
    #: ``refresh_token`` or ``access_token``.
    table: str
    #: The family (grant id); ``None`` for a refresh token without one.
    grant_id: str | None
    #: The token's row id (``None`` for a whole family).
    token_id: int | None
    #: How many rows (the live refresh tokens of a forked family; else 1).
    count: int = 1

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class AuditReport:
    """What ``flask oauth2 audit`` found: counts by status and every
    violation of the storage invariants (none on a healthy database)."""

    #: When it was taken (the app's clock).
    checked_at: int
    #: Refresh tokens by ``live``, ``rotated``, ``expired``, ``revoked``.
    refresh_tokens: Mapping[str, int]
    #: Access tokens by ``live``, ``expired``, ``revoked``.
    access_tokens: Mapping[str, int]
    #: Authorization codes by ``live``, ``used``, ``expired``.
    authorization_codes: Mapping[str, int]
    #: Families (grants) with refresh tokens stored, and how many of them
    #: were revoked.
    grants: int
    revoked_grants: int
    violations: tuple[AuditViolation, ...]

    @property
    def clean(self) -> bool:
        """Whether every invariant holds."""
        return not self.violations

    def as_json(self) -> dict[str, Any]:
        return {
            "checked_at": self.checked_at,
            "clean": self.clean,
            "counts": {
                "refresh_tokens": dict(self.refresh_tokens),
                "access_tokens": dict(self.access_tokens),
                "authorization_codes": dict(self.authorization_codes),
                "grants": self.grants,
                "revoked_grants": self.revoked_grants,
            },
            "violations": [violation.as_json() for violation in self.violations],
        }
