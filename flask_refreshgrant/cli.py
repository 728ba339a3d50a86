"""The ``flask oauth2`` command group."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from . import signals
from .state import state

oauth2_cli = AppGroup("oauth2", help="Manage OAuth 2.0 clients and tokens.")

GRANT_TYPES = ("authorization_code", "refresh_token", "password", "client_credentials")


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
    "--refresh-token-validity-period",
    type=int,
    default=None,
    help="Seconds, overriding the app's setting for this client (negative: never).",
)
@click.option(
    "--no-renew",
    is_flag=True,
    help="Return the same refresh token on refresh (ignored for public clients).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def create_client(
    name: str,
    grant_types: tuple[str, ...],
    scope: str,
    redirect_uris: tuple[str, ...],
    public: bool,
    refresh_token_validity_period: int | None,
    no_renew: bool,
    as_json: bool,
) -> None:
    """Register a client; its secret is printed once and never stored in clear."""
    if public and "client_credentials" in grant_types:
        raise click.BadParameter(
            "a public client cannot use client_credentials (RFC 6749 §4.4)",
            param_hint="--public",
        )
    app_state = state()
    scopes_supported = app_state.settings.scopes_supported
    unknown = [
        s for s in scope.split() if scopes_supported and s not in scopes_supported
    ]
    if unknown:
        raise click.BadParameter(
            f"not in OAUTH2_SCOPES_SUPPORTED: {' '.join(unknown)}", param_hint="--scope"
        )
    created = app_state.storage.create_client(
        name=name,
        grant_types=list(grant_types),
        scope=scope,
        redirect_uris=list(redirect_uris),
        public=public,
        refresh_token_validity_period=refresh_token_validity_period,
        renew_refresh_token=False if no_renew else None,
    )
    client_id = created.client_id
    if as_json:
        click.echo(
            json.dumps({"client_id": client_id, "client_secret": created.client_secret})
        )
        return
    click.echo(f"client_id:     {client_id}")
    if created.client_secret is None:
        click.echo("client_secret: (none: public client)")
    else:
        click.echo(f"client_secret: {created.client_secret}")
        click.echo("Store the secret now: it is not kept and cannot be shown again.")


@oauth2_cli.command("purge")
@click.option(
    "--older-than",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Keep tokens that expired or were revoked less than this many seconds ago.",
)
def purge(older_than: int) -> None:
    """Delete expired and revoked tokens and expired codes (run it from cron).

    Rotated-out refresh tokens stay while their family is live, so that reuse
    detection still recognises them.
    """
    app_state = state()
    storage = app_state.storage
    now = storage.now()
    grace = storage.longest_grace_period(
        app_state.settings.policy.refresh_token_grace_period
    )
    counts = storage.purge(cutoff=now - older_than, replay_cutoff=now - grace)
    click.echo(
        f"deleted {counts.access_tokens} access tokens, "
        f"{counts.refresh_tokens} refresh tokens and "
        f"{counts.authorization_codes} authorization codes; "
        f"cleared {counts.replays} grace-period replay copies"
    )


@oauth2_cli.command("revoke")
@click.option("--client-id", help="Revoke every token of this client.")
@click.option("--user-id", help="Revoke every token of this user.")
def revoke(client_id: str | None, user_id: str | None) -> None:
    """Revoke all tokens of a client or of a user (or of a user at a client)."""
    if client_id is None and user_id is None:
        raise click.UsageError("give --client-id, --user-id or both")
    storage = state().storage
    if client_id is not None and storage.get_client(client_id) is None:
        raise click.BadParameter(f"no client {client_id!r}", param_hint="--client-id")
    count = storage.revoke_all(now=storage.now(), client_id=client_id, user_id=user_id)
    signals.emit(
        signals.token_revoked,
        client_id=client_id,
        user_id=user_id,
        family_id=None,
        reason="cli",
    )
    click.echo(f"revoked {count} tokens")
