"""``flask oauth2 clients list|show|update|rotate-secret|delete``: a thin
layer over :mod:`..management.operations` (SPEC §7.1)."""

from __future__ import annotations

import dataclasses
from typing import Any

import click
from flask.cli import AppGroup

from ..coercion import TEN_YEARS
from ..config import PER_CLIENT_SETTINGS
from ..management import operations
from ..management.registration import GRANT_TYPES
from ..records import ClientRecord
from ..server.state import state
from .common import (
    echo_fields,
    echo_json,
    echo_table,
    json_option,
    operator_errors,
    per_client_options,
    setting_text,
    when,
)

clients_cli = AppGroup("clients", help="List, show, change and delete clients.")


def _echo_client(record: ClientRecord) -> None:
    policy = state().settings.policy
    fields = [
        ("client_id", record.client_id),
        ("name", record.name),
        ("type", "public" if record.public else "confidential"),
        ("grant_types", ",".join(record.grant_types)),
        ("scope", record.scope),
        ("redirect_uris", ",".join(record.redirect_uris) or "-"),
        ("created_at", when(record.created_at)),
    ]
    for name, value in record.settings.items():
        # As the configuration page writes them: 86400, True, None.
        inherited = f"inherits (app: {setting_text(getattr(policy, name))})"
        fields.append((name, inherited if value is None else setting_text(value)))
    if record.previous_secret_expires_at is not None:
        fields.append(
            ("old secret accepted until", when(record.previous_secret_expires_at))
        )
    echo_fields(fields)


@clients_cli.command("list")
@json_option
def list_clients(as_json: bool) -> None:
    """Every client, oldest first (never a secret)."""
    records = operations.list_clients(state())
    if as_json:
        echo_json([record.as_json() for record in records])
        return
    if not records:
        click.echo("no clients")
        return
    echo_table(
        ("CLIENT_ID", "NAME", "TYPE", "GRANT TYPES", "SCOPE", "CREATED"),
        [
            (
                r.client_id,
                r.name,
                "public" if r.public else "confidential",
                ",".join(r.grant_types),
                r.scope,
                when(r.created_at),
            )
            for r in records
        ],
    )


@clients_cli.command("show")
@click.argument("client_id")
@json_option
def show_client(client_id: str, as_json: bool) -> None:
    """One client, with every per-client setting (null: inherits)."""
    with operator_errors():
        record = operations.get_client(state(), client_id)
    if as_json:
        echo_json(record.as_json())
    else:
        _echo_client(record)


@clients_cli.command("update")
@click.argument("client_id")
@click.option("--name", help="Human-readable client name.")
@click.option(
    "--grant-type",
    "grant_types",
    multiple=True,
    type=click.Choice(GRANT_TYPES),
    help="Replace the grant types (repeat for several).",
)
@click.option("--scope", help='Replace the scopes: space-separated, e.g. "A B".')
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    help="Replace the redirect URIs (repeat for several).",
)
@per_client_options
@click.option(
    "--inherit",
    "inherit",
    multiple=True,
    type=click.Choice([s.name for s in PER_CLIENT_SETTINGS]),
    help="Set a per-client setting back to the app's value (repeatable).",
)
@json_option
def update_client(
    client_id: str,
    name: str | None,
    grant_types: tuple[str, ...],
    scope: str | None,
    redirect_uris: tuple[str, ...],
    inherit: tuple[str, ...],
    as_json: bool,
    **settings: Any,
) -> None:
    """Change only what is given. Applies from the next request on: tokens
    already issued keep their expiry."""
    changes: dict[str, Any] = {
        key: value for key, value in settings.items() if value is not None
    }
    both = sorted(set(changes) & set(inherit))
    if both:
        raise click.UsageError(f"{both[0]} is both given and inherited")
    changes.update(dict.fromkeys(inherit))
    given = {
        "name": name,
        "grant_types": grant_types or None,
        "scope": scope,
        "redirect_uris": redirect_uris or None,
    }
    changes.update({key: value for key, value in given.items() if value is not None})
    if not changes:
        raise click.UsageError("nothing to change: give at least one option")
    with operator_errors():
        record = operations.update_client(state(), client_id, **changes)
    if as_json:
        echo_json(record.as_json())
    else:
        _echo_client(record)


@clients_cli.command("rotate-secret")
@click.argument("client_id")
@click.option(
    "--keep-old-for",
    type=click.IntRange(min=0, max=TEN_YEARS),
    default=0,
    show_default=True,
    metavar="SECONDS",
    help="How long the old secret keeps working (switch without downtime).",
)
@json_option
def rotate_secret(client_id: str, keep_old_for: int, as_json: bool) -> None:
    """A new secret for a confidential client, printed once."""
    with operator_errors():
        created = operations.rotate_client_secret(
            state(), client_id, keep_old_for=keep_old_for
        )
    if as_json:
        echo_json(dataclasses.asdict(created))
        return
    click.echo(f"client_id:     {created.client_id}")
    click.echo(f"client_secret: {created.client_secret}")
    click.echo("Store the secret now: it is not kept and cannot be shown again.")
    if keep_old_for:
        click.echo(f"The old secret keeps working for {keep_old_for} seconds.")
    else:
        click.echo("The old secret no longer works.")


@clients_cli.command("delete")
@click.argument("client_id")
@json_option
def delete_client(client_id: str, as_json: bool) -> None:
    """Revoke every token of the client, then delete it."""
    with operator_errors():
        revoked = operations.delete_client(state(), client_id)
    if as_json:
        echo_json({"client_id": client_id, "revoked_tokens": revoked})
    else:
        click.echo(f"deleted client {client_id}; revoked {revoked} tokens")
