"""``flask oauth2 keys list|rotate|retire``: the signing keys (SPEC §10)."""

from __future__ import annotations

import dataclasses

import click
from flask.cli import AppGroup

from ..coercion import TEN_YEARS
from ..config import SIGNING_ALGS
from ..errors import NotFoundError, SigningKeyError
from ..keys.keyring import SigningKeyRecord
from ..server.state import state
from .common import echo_fields, echo_json, echo_table, json_option, when

keys_cli = AppGroup("keys", help="Signing keys of JWT access tokens and ID tokens.")


def _document(record: SigningKeyRecord) -> dict[str, object]:
    document = dataclasses.asdict(record)
    del document["live_until"]
    return document


@keys_cli.command("list")
@json_option
def list_keys(as_json: bool) -> None:
    """Every signing key, oldest first: next, current, previous or retired."""
    records = state().keys.records()
    if as_json:
        echo_json([_document(r) for r in records])
        return
    if not records:
        click.echo("no signing keys yet (the first is made when first needed)")
        return
    echo_table(
        ["kid", "alg", "status", "created", "activates", "retired"],
        [
            [
                r.kid,
                r.alg,
                r.status,
                when(r.created_at),
                when(r.activates_at),
                when(r.retired_at),
            ]
            for r in records
        ],
    )


@keys_cli.command("rotate")
@click.option(
    "--alg",
    type=click.Choice(SIGNING_ALGS),
    help="Algorithm of the new key (default: OAUTH2_SIGNING_ALG).",
)
@click.option(
    "--activate-in",
    type=click.IntRange(min=0, max=TEN_YEARS),
    default=0,
    show_default=True,
    metavar="SECONDS",
    help="The new key is published at once and signs from then on.",
)
@json_option
def rotate(alg: str | None, activate_in: int, as_json: bool) -> None:
    """Add a signing key; the key it replaces stays published while anything
    it signed can be valid (then `purge` retires it)."""
    record = state().keys.rotate(alg=alg, activate_in=activate_in)
    if as_json:
        echo_json(_document(record))
        return
    echo_fields(
        [
            ("kid", record.kid),
            ("alg", record.alg),
            ("status", record.status),
            ("activates", when(record.activates_at)),
        ]
    )


@keys_cli.command("retire")
@click.argument("kid")
@click.option(
    "--force",
    is_flag=True,
    help="Retire even the current key or one whose tokens may still be live.",
)
def retire(kid: str, force: bool) -> None:
    """Stop publishing a signing key (refused, exit 2, for the current key or
    one whose tokens may still be live, unless --force)."""
    try:
        record = state().keys.retire(kid, force=force)
    except NotFoundError as error:
        raise click.ClickException(str(error)) from None
    except SigningKeyError as error:
        raise click.UsageError(str(error)) from None
    click.echo(f"retired {record.kid}")
