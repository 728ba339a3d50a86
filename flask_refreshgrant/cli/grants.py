"""``flask oauth2 grants list|show|revoke``: a thin layer over
:mod:`..management.operations` (SPEC §7.1). A grant is a refresh token family."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from .. import reasons
from ..management import operations
from ..records import GrantRecord
from ..server.state import state
from .common import (
    echo_fields,
    echo_json,
    echo_table,
    json_option,
    operator_errors,
    when,
)

grants_cli = AppGroup(
    "grants", help="List, inspect and revoke grants (token families)."
)


def _expires(record: GrantRecord) -> str:
    """When its refresh token expires; nothing for a revoked grant (its last
    token's expiry no longer means anything)."""
    if record.status == "revoked":
        return "-"
    return when(record.expires_at, "never")


def _grant_fields(record: GrantRecord) -> list[tuple[str, str]]:
    return [
        ("grant_id", record.grant_id),
        ("client", f"{record.client_id} ({record.client_name or 'deleted'})"),
        ("user_id", record.user_id or "-"),
        ("scope", record.scope),
        ("status", record.status),
        ("created_at", when(record.created_at)),
        ("last_refreshed_at", when(record.last_refreshed_at, "never")),
        ("refresh_count", str(record.refresh_count)),
        ("expires_at", _expires(record)),
    ]


@grants_cli.command("list")
@click.option("--user-id", help="Only this user's grants.")
@click.option("--client-id", help="Only this client's grants.")
@click.option(
    "--all", "include_inactive", is_flag=True, help="Expired and revoked ones too."
)
@json_option
def list_grants(
    user_id: str | None, client_id: str | None, include_inactive: bool, as_json: bool
) -> None:
    """Grants, oldest first; active ones only unless --all."""
    with operator_errors():
        records = operations.list_grants(
            state(),
            user_id=user_id,
            client_id=client_id,
            include_inactive=include_inactive,
        )
    if as_json:
        echo_json([record.as_json() for record in records])
        return
    if not records:
        click.echo("no grants" if include_inactive else "no active grants")
        return
    echo_table(
        (
            "GRANT_ID",
            "CLIENT",
            "USER",
            "STATUS",
            "CREATED",
            "LAST REFRESHED",
            "REFRESHES",
            "EXPIRES",
        ),
        [
            (
                r.grant_id,
                r.client_name or r.client_id,
                r.user_id or "-",
                r.status,
                when(r.created_at),
                when(r.last_refreshed_at, "never"),
                str(r.refresh_count),
                _expires(r),
            )
            for r in records
        ],
    )


@grants_cli.command("show")
@click.argument("grant_id")
@json_option
def show_grant(grant_id: str, as_json: bool) -> None:
    """A grant and every refresh token of its family, in issue order."""
    with operator_errors():
        history = operations.grant_history(state(), grant_id)
    if as_json:
        echo_json(history.as_json())
        return
    fields = _grant_fields(history.grant)
    if history.revoked_at is not None:
        fields.append(
            ("revoked", f"{when(history.revoked_at)} ({history.revoked_reason})")
        )
    echo_fields(fields)
    click.echo("")
    echo_table(
        ("#", "ISSUED", "EXPIRES", "ROTATED", "REVOKED", "STATUS"),
        [
            (
                str(number),
                when(t.issued_at),
                when(t.expires_at, "never"),
                when(t.rotated_at),
                when(t.revoked_at),
                t.status,
            )
            for number, t in enumerate(history.tokens, start=1)
        ],
    )


@grants_cli.command("revoke")
@click.argument("grant_id")
@json_option
def revoke_grant(grant_id: str, as_json: bool) -> None:
    """Revoke the grant's refresh and access tokens (reason: cli). A grant
    that was revoked already stays as it was (exit status 0)."""
    with operator_errors():
        before = operations.grant_history(state(), grant_id)
        revoked = 0
        if before.revoked_at is None:
            revoked = operations.revoke_grant(state(), grant_id, reason=reasons.CLI)
    already = before.revoked_at is not None
    if as_json:
        echo_json(
            {
                "grant_id": grant_id,
                "revoked_tokens": revoked,
                "already_revoked": already,
            }
        )
    elif already:
        click.echo(
            f"grant {grant_id} was already revoked at {when(before.revoked_at)} "
            f"({before.revoked_reason}); nothing to revoke"
        )
    else:
        click.echo(f"revoked grant {grant_id}: {revoked} tokens")
