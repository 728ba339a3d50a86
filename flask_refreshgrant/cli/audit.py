"""``flask oauth2 audit``: a thin layer over :func:`..management.operations.audit`."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..management import operations
from ..records import AuditReport
from ..server.state import state
from .common import echo_json, echo_table, json_option, when

#: What each kind of violation means, for people.
_MEANING = {
    "two_live_refresh_tokens": "grant has more than one live refresh token",
    "usable_after_revocation": "token not revoked with its revoked grant",
    "token_without_family": "token without its grant",
}


def _counts(name: str, counts: dict[str, int]) -> str:
    listed = ", ".join(f"{count} {status}" for status, count in counts.items())
    return f"{name}: {sum(counts.values())} ({listed})"


def _echo_report(report: AuditReport) -> None:
    click.echo(f"audit at {when(report.checked_at)}")
    click.echo(f"grants: {report.grants} ({report.revoked_grants} revoked)")
    click.echo(_counts("refresh tokens", dict(report.refresh_tokens)))
    click.echo(_counts("access tokens", dict(report.access_tokens)))
    click.echo(_counts("authorization codes", dict(report.authorization_codes)))
    if report.clean:
        click.echo("no violations")
        return
    click.echo(f"{len(report.violations)} violations:")
    echo_table(
        ("KIND", "TABLE", "GRANT_ID", "TOKEN_ROW", "ROWS", "MEANING"),
        [
            (
                v.kind,
                v.table,
                v.grant_id or "-",
                "-" if v.token_id is None else str(v.token_id),
                str(v.count),
                _MEANING[v.kind],
            )
            for v in report.violations
        ],
    )


@click.command("audit")
@json_option
@with_appcontext
def audit(as_json: bool) -> None:
    """Check the stored tokens' invariants and count them by status.

    Exit status 0 when every invariant holds, 1 with the violations listed:
    a grant with two live refresh tokens, a token not revoked with its
    revoked grant, a token row without its grant.
    """
    report = operations.audit(state())
    if as_json:
        echo_json(report.as_json())
    else:
        _echo_report(report)
    if not report.clean:
        raise SystemExit(1)
