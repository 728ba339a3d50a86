"""``flask oauth2 registration-token create``: initial access tokens for
dynamic client registration (RFC 7591, SPEC §12)."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from ..management.registration_tokens import MAX_SECONDS, create_registration_token
from ..server.state import state

registration_token_cli = AppGroup(
    "registration-token", help="Initial access tokens for dynamic registration."
)


@registration_token_cli.command("create")
@click.option(
    "--expires-in",
    type=click.IntRange(1, MAX_SECONDS),
    default=None,
    help="Seconds the token is valid (default: no expiry).",
)
@click.option(
    "--uses",
    type=click.IntRange(1, 1_000_000),
    default=None,
    help="Registrations it allows (default: any number).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def create(expires_in: int | None, uses: int | None, as_json: bool) -> None:
    """Make an initial access token; it is printed once and stored only as
    a digest. A client sends it as 'Authorization: Bearer …' to
    {prefix}/register when OAUTH2_DYNAMIC_REGISTRATION is "token"."""
    created = create_registration_token(state(), expires_in=expires_in, uses=uses)
    if as_json:
        click.echo(json.dumps(created.as_json()))
        return
    click.echo(f"token:      {created.token}")
    click.echo(f"expires_at: {created.expires_at or 'never'}")
    click.echo(f"uses:       {created.uses or 'unlimited'}")
    if state().settings.dynamic_registration != "token":
        click.echo(
            'Note: OAUTH2_DYNAMIC_REGISTRATION is not "token": the token is '
            "not needed now."
        )
