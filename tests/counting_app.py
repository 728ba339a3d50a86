"""The example app, with every password it checks written to a file.

``gunicorn 'tests.counting_app:create_app()'`` with ``COUNT_PASSWORD_CHECKS``
naming the file: each call of the app's ``authenticate_user`` (the password
check the password grant and the login page run) appends the password and a
newline, from every worker and thread (``O_APPEND`` writes of one line are
not interleaved). The tests read how many passwords were really checked.
"""

from __future__ import annotations

import os

from flask import Flask

import example_app
from example_app import models


def create_app() -> Flask:
    path = os.environ["COUNT_PASSWORD_CHECKS"]
    check = models.authenticate_user

    def counting(username: str, password: str) -> models.User | None:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, password.encode() + b"\n")
        finally:
            os.close(descriptor)
        return check(username, password)

    # create_app passes the module's name to init_app: this one counts.
    example_app.authenticate_user = counting  # type: ignore[attr-defined]
    return example_app.create_app()
