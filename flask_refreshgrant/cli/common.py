"""What the ``flask oauth2`` commands share: the per-client setting options,
one JSON document or a readable table, and errors as one line on stderr."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, TypeVar

import click

from ..coercion import Flag
from ..config import PER_CLIENT_SETTINGS, per_client_coercion
from ..errors import ClientRegistrationError, NotFoundError

_Command = TypeVar("_Command", bound=Callable[..., Any])


def per_client_options(command: _Command) -> _Command:
    """One option per per-client setting of the settings table: ``--NAME N``
    for seconds, ``--NAME/--no-NAME`` for a flag; omitted: inherit."""
    for setting in reversed(PER_CLIENT_SETTINGS):
        stem = setting.cli_option
        help_text = f"{setting.doc} (overrides {setting.key} for this client)"
        if isinstance(per_client_coercion(setting), Flag):
            option = click.option(
                f"--{stem}/--no-{stem}", setting.name, default=None, help=help_text
            )
        else:
            option = click.option(
                f"--{stem}", setting.name, type=int, metavar="SECONDS", help=help_text
            )
        command = option(command)
    return command


def json_option(command: _Command) -> _Command:
    """``--json``: print exactly one JSON document instead of text."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print one JSON document."
    )(command)


def echo_json(document: Any) -> None:
    """Every ``--json`` command prints its one document the same way."""
    click.echo(json.dumps(document, indent=2))


#: C0 and C1 control characters and DEL: a CR or LF in a client name must not
#: forge a row of a table, nor an escape sequence drive the terminal.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with each control character written as a Python escape
    (``\\r``, ``\\n``, ``\\x1b``): text output shows it, never obeys it."""
    return _CONTROL_CHARACTER.sub(lambda match: repr(match.group())[1:-1], text)


def setting_text(value: object) -> str:
    """A setting's value as the configuration page writes it: ``None``,
    ``True``, ``86400``."""
    return str(value)


@contextmanager
def operator_errors() -> Iterator[None]:
    """An unknown id: one line on stderr, exit status 1. A refused change:
    a usage error, exit status 2. Never a traceback."""
    try:
        yield
    except NotFoundError as error:
        raise click.ClickException(str(error)) from None
    except ClientRegistrationError as error:
        raise click.UsageError(str(error)) from None


def when(epoch: int | None, none: str = "-") -> str:
    """A time for people: UTC, to the second; ``none`` for ``None``."""
    if epoch is None:
        return none
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Columns padded to their widest cell."""
    lines = [[printable(str(cell)) for cell in line] for line in (headers, *rows)]
    widths = [max(len(cell) for cell in column) for column in zip(*lines, strict=True)]
    for line in lines:
        click.echo(
            "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        )


def echo_fields(fields: Sequence[tuple[str, str]]) -> None:
    """``name: value`` lines, values aligned (control characters escaped)."""
    width = max(len(name) for name, _ in fields) + 1
    for name, value in fields:
        click.echo(f"{name + ':':<{width}} {printable(value)}")
