"""The column values of new token rows: what a grant's clear tokens become
when stored (their digests, never the tokens)."""

from __future__ import annotations

import dataclasses
import secrets
from typing import Any

from ..models import Models, RefreshTokenMixin
from ..security import token_digest

#: A row to insert: its model and its column values.
Row = tuple[type[Any], dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class IssuedTokens:
    """What a grant hands to storage: the clear tokens, never stored as such."""

    access_token: str
    refresh_token: str | None
    scope: str
    access_token_expires_in: int
    #: The DPoP key thumbprint the access token is bound to (RFC 9449).
    access_token_jkt: str | None = None
    #: The one a new family's refresh token is bound to (public clients).
    refresh_token_jkt: str | None = None
    #: The access token's audience (RFC 8707), space-separated; ``None``:
    #: the default one (nothing stored).
    audience: str | None = None
    #: A new family's resources, kept by its refresh tokens; ``None``: none.
    resources: str | None = None

    @classmethod
    def from_response(
        cls,
        token: dict[str, Any],
        *,
        access_token_jkt: str | None = None,
        refresh_token_jkt: str | None = None,
        audience: str | None = None,
        resources: str | None = None,
    ) -> IssuedTokens:
        """The tokens of a token response a grant generated."""
        return cls(
            access_token=token["access_token"],
            refresh_token=token.get("refresh_token"),
            scope=token.get("scope", ""),
            access_token_expires_in=token["expires_in"],
            access_token_jkt=access_token_jkt,
            refresh_token_jkt=refresh_token_jkt,
            audience=audience,
            resources=resources,
        )


def new_family_id() -> str:
    return secrets.token_hex(16)


def prefixed(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` as statement parameters named ``prefix<column>``."""
    return {f"{prefix}{name}": value for name, value in values.items()}


def access_token_row(
    models: Models,
    issued: IssuedTokens,
    *,
    client_id: str,
    user_id: str | None,
    grant_type: str,
    family_id: str | None,
    now: int,
) -> Row:
    """An access token row; ``dpop_jkt`` only when it is bound and
    ``audience`` only when the grant has resources, so a plain bearer
    token's INSERT stays the statement it always was."""
    values = {
        "digest": token_digest(issued.access_token),
        "client_id": client_id,
        "user_id": user_id,
        "scope": issued.scope,
        "grant_type": grant_type,
        "family_id": family_id,
        "issued_at": now,
        "expires_at": now + issued.access_token_expires_in,
    }
    if issued.access_token_jkt is not None:
        values["dpop_jkt"] = issued.access_token_jkt
    if issued.audience is not None:
        values["audience"] = issued.audience
    return models.access_token, values


def access_token_for(
    models: Models, refresh: RefreshTokenMixin, issued: IssuedTokens, *, now: int
) -> Row:
    """An access token row of ``refresh``'s family, client and user."""
    return access_token_row(
        models,
        issued,
        client_id=refresh.client_id,
        user_id=refresh.user_id,
        grant_type=refresh.grant_type,
        family_id=refresh.family_id,
        now=now,
    )


def new_grant_rows(
    models: Models,
    issued: IssuedTokens,
    *,
    family_id: str,
    client_id: str,
    user_id: str | None,
    grant_type: str,
    now: int,
    refresh_expires_at: int | None,
) -> list[Row]:
    """The rows of a fresh grant: its first refresh token (if any) starting
    family ``family_id``, and an access token."""
    rows: list[Row] = []
    if issued.refresh_token is not None:
        refresh = {
            "digest": token_digest(issued.refresh_token),
            "family_id": family_id,
            "parent_id": None,
            "client_id": client_id,
            "user_id": user_id,
            "scope": issued.scope,
            "grant_type": grant_type,
            "issued_at": now,
            "family_issued_at": now,
            "expires_at": refresh_expires_at,
        }
        if issued.refresh_token_jkt is not None:
            refresh["dpop_jkt"] = issued.refresh_token_jkt
        if issued.resources is not None:
            refresh["resources"] = issued.resources
        rows.append((models.refresh_token, refresh))
    rows.append(
        access_token_row(
            models,
            issued,
            client_id=client_id,
            user_id=user_id,
            grant_type=grant_type,
            family_id=family_id if issued.refresh_token is not None else None,
            now=now,
        )
    )
    return rows
