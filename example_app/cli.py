"""The example app's own commands (the extension adds ``flask oauth2 …``)."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from .demo import banner
from .models import User, db


def register_commands(app: Flask) -> None:
    app.cli.add_command(create_user)
    app.cli.add_command(demo)


@click.command("create-user")
@click.argument("name")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@with_appcontext
def create_user(name: str, password: str) -> None:
    """Add a user who can log in and use the password grant."""
    if db.session.query(User).filter_by(username=name).first() is not None:
        raise click.ClickException(f"user {name!r} already exists")
    user = User(username=name)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    click.echo(f"created user {name!r} (id {user.id})")


@click.command("demo")
@with_appcontext
def demo() -> None:
    """Print the demo credentials and ready-to-paste curl commands again."""
    click.echo(banner(current_app))
