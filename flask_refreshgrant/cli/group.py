"""The ``flask oauth2`` command group: a thin layer over :mod:`..management.operations`.

``clients …`` and ``grants …`` are in :mod:`.clients` and
:mod:`.grants`."""

from __future__ import annotations

import dataclasses
from typing import Any

import click
from flask.cli import AppGroup

from .. import reasons, signals
from ..coercion import TEN_YEARS
from ..errors import ClientRegistrationError
from ..management import operations
from ..management.registration import GRANT_TYPES
from ..server.state import state
from .audit import audit
from .clients import clients_cli
from .common import echo_json, per_client_options
from .grants import grants_cli
from .keys import keys_cli
from .registration import registration_token_cli

oauth2_cli = AppGroup("oauth2", help="Manage OAuth 2.0 clients and tokens.")
oauth2_cli.add_command(clients_cli)
oauth2_cli.add_command(grants_cli)
oauth2_cli.add_command(keys_cli)
oauth2_cli.add_command(audit)
oauth2_cli.add_command(registration_token_cli)


@oauth2_cli.command("create-client")
@click.option("--name", required=True, help="Human-readable client name.")
@click.option(
    "--grant-type",
    "grant_types",
    multiple=True,
    required=True,
    type=click.Choice(GRANT_TYPES),
    help="A grant type the client may use (repeat for several).",
)
@click.option("--scope", default="", help='Space-separated scopes, e.g. "A B".')
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Repeatable.")
@click.option(
    "--public", is_flag=True, help="A public client: no secret, always rotates."
)
@click.option(
    "--serves-resource",
    "serves_resources",
    multiple=True,
    help="A resource (RFC 8707) this client serves as a resource server: it "
    "may introspect access tokens for it. Repeatable.",
)
@per_client_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def create_client(
    name: str,
    grant_types: tuple[str, ...],
    scope: str,
    redirect_uris: tuple[str, ...],
    public: bool,
    serves_resources: tuple[str, ...],
    as_json: bool,
    **settings: Any,
) -> None:
    """Register a client; its secret is printed once and never stored in clear."""
    try:
        created = operations.create_client(
            state(),
            name=name,
            grant_types=grant_types,
            scope=scope,
            redirect_uris=redirect_uris,
            public=public,
            serves_resources=serves_resources,
            **{key: value for key, value in settings.items() if value is not None},
        )
    except ClientRegistrationError as error:
        # One line ("Error: …") and exit status 1; nothing was stored.
        raise click.ClickException(str(error)) from None
    if as_json:
        echo_json(dataclasses.asdict(created))
        return
    click.echo(f"client_id:     {created.client_id}")
    if created.client_secret is None:
        click.echo("client_secret: (none: public client)")
    else:
        click.echo(f"client_secret: {created.client_secret}")
        click.echo("Store the secret now: it is not kept and cannot be shown again.")


@oauth2_cli.command("purge")
@click.option(
    "--older-than",
    type=click.IntRange(min=0, max=TEN_YEARS),
    default=0,
    show_default=True,
    help="Keep tokens that expired or were revoked less than this many seconds ago.",
)
def purge(older_than: int) -> None:
    """Delete expired and revoked tokens, expired codes and old DPoP proofs
    (run it from cron).

    Rotated-out refresh tokens stay while their family is live, so that reuse
    detection still recognises them.
    """
    counts = operations.purge(state(), older_than=older_than)
    click.echo(
        f"deleted {counts.access_tokens} access tokens, "
        f"{counts.refresh_tokens} refresh tokens and "
        f"{counts.authorization_codes} authorization codes; "
        f"cleared {counts.replays} grace-period replay copies"
        f" and {counts.password_lockouts} stale password lock records; "
        f"forgot {counts.dpop_proofs} used DPoP proofs; "
        f"deleted {counts.dynamic_clients} unused dynamic clients"
        + (
            f"; retired {counts.signing_keys} signing keys"
            if counts.signing_keys
            else ""
        )
    )


@oauth2_cli.command("revoke")
@click.option("--client-id", help="Revoke every token of this client.")
@click.option("--user-id", help="Revoke every token of this user.")
def revoke(client_id: str | None, user_id: str | None) -> None:
    """Revoke all tokens of a client or of a user (or of a user at a client)."""
    if client_id is None and user_id is None:
        raise click.UsageError("give --client-id, --user-id or both")
    app_state = state()
    admin = app_state.admin
    if client_id is not None and not admin.client_exists(client_id):
        raise click.BadParameter(f"no client {client_id!r}", param_hint="--client-id")
    count = admin.revoke_all(
        now=app_state.server.now(),
        reason=reasons.CLI,
        client_id=client_id,
        user_id=user_id,
    )
    signals.emit(
        signals.token_revoked,
        client_id=client_id,
        user_id=user_id,
        family_id=None,
        reason=reasons.CLI,
    )
    click.echo(f"revoked {count} tokens")
