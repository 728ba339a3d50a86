"""The example app's command line as a user runs it: the real
``flask --app example_app …`` in a subprocess, with a new instance folder
and ``DATABASE_URL`` (SPEC §8: stdout is only the command's own output; the
demo client's credentials are kept per database)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BANNER_TITLE = "=== flask-refreshgrant example app ==="


@dataclass
class Run:
    stdout: str
    stderr: str

    def json(self) -> Any:
        """The one JSON document stdout holds (anything else fails)."""
        return json.loads(self.stdout)


def flask(instance: Path, database: str, *args: str) -> Run:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FLASK_", "EXAMPLE_", "DATABASE_URL"))
    }
    env.update(
        DATABASE_URL=database,
        EXAMPLE_INSTANCE_PATH=str(instance),
        PYTHONPATH=str(ROOT),
    )
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "example_app", *args],
        cwd=instance.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return Run(done.stdout, done.stderr)


def demo_clients(run: Run) -> list[str]:
    return [c["client_id"] for c in run.json() if c["name"] == "Demo client"]


def test_json_on_a_new_database_and_after_switching_databases(
    tmp_path: Path, database_url: str
) -> None:
    """``--json`` prints exactly one JSON document, even when the command's
    app creation seeds a new database (the banner goes to stderr); going
    from one database to another and back creates no new demo client, and
    each database keeps its own credentials."""
    instance = tmp_path / "instance"
    # The test's database (SQLite or PostgreSQL), then a second SQLite file.
    first, second = database_url, f"sqlite:///{tmp_path / 'second.db'}"
    listing = ("oauth2", "clients", "list", "--json")

    new = flask(instance, first, *listing)
    (first_client,) = demo_clients(new)
    assert BANNER_TITLE in new.stderr and first_client in new.stderr
    assert "OAUTH2_ISSUER" not in new.stderr  # no warning from a CLI call

    again = flask(instance, first, *listing)
    assert demo_clients(again) == [first_client]
    assert again.stderr == ""

    switched = flask(instance, second, *listing)
    (second_client,) = demo_clients(switched)
    assert second_client != first_client
    assert BANNER_TITLE in switched.stderr

    back = flask(instance, first, *listing)
    assert demo_clients(back) == [first_client]
    assert back.stderr == ""
    # The banner of the first database shows the first database's secret.
    first_secret = new.stderr.split("client_secret: ")[1].split()[0]
    demo = flask(instance, first, "demo")
    assert f"client_id:     {first_client}\n" in demo.stdout
    assert f"client_secret: {first_secret}\n" in demo.stdout
    # The instance folder's copy follows the database the app last used.
    copy = json.loads((instance / "demo-client.json").read_text())
    assert copy == {"client_id": first_client, "client_secret": first_secret}

    assert demo_clients(flask(instance, second, *listing)) == [second_client]


def test_help_prints_help_only(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'help.db'}"
    flask(tmp_path / "instance", database, "oauth2", "clients", "list")  # seeded
    shown = flask(tmp_path / "instance", database, "oauth2", "--help")
    assert shown.stdout.startswith("Usage: ")
    assert shown.stderr == ""
