"""Issue 19, point 1: the password lock holds under a burst (SPEC §6.1, §13).

A burst of simultaneous password attempts for one username, against the
example app under gunicorn with 2 workers of 8 threads, on SQLite and on
PostgreSQL: the app's password check runs at most
``OAUTH2_PASSWORD_MAX_FAILURES`` times (``tests/counting_app.py`` logs each
check), and the right password in the burst gets ``200`` only if it was one
of those. Before the attempt was counted ahead of the check, about 14
passwords were checked per burst and the right one was accepted after the
lock.
"""

from __future__ import annotations

from pathlib import Path

import requests

from .conftest import assert_burst_bounded
from .live import DEMO_PASSWORD, DEMO_USERNAME, describe, live_server, together

WRONG = {"error": "invalid_grant", "error_description": "Invalid username or password."}
MAX_FAILURES = 5
BURST = 24
THREADED = ("--worker-class", "gthread", "--workers", "2", "--threads", "8")


def test_a_burst_gets_at_most_max_failures_passwords_checked(
    tmp_path: Path, database_url: str
) -> None:
    log = tmp_path / "checked.txt"
    passwords = [f"guess-{index}" for index in range(BURST - 1)] + [DEMO_PASSWORD]
    with live_server(
        tmp_path,
        database_url,
        THREADED,
        {"COUNT_PASSWORD_CHECKS": str(log)},
        app="tests.counting_app:create_app()",
    ) as server:
        log.write_bytes(b"")  # the seeding checked nothing, but be sure

        def attempt(session: requests.Session, index: int) -> requests.Response:
            return session.post(
                server.token_url,
                data={
                    "grant_type": "password",
                    "username": DEMO_USERNAME,
                    "password": passwords[index],
                },
                auth=server.credentials,
                timeout=30,
            )

        answers = together(BURST, attempt)
        checked = log.read_text().splitlines()
        assert_burst_bounded(checked, DEMO_PASSWORD, max_failures=MAX_FAILURES)
        accepted = [a for a in answers if a.status_code == 200]
        refused = [a for a in answers if a.status_code != 200]
        assert all((a.status_code, a.json()) == (400, WRONG) for a in refused), (
            describe(answers)
        )
        if DEMO_PASSWORD in checked:
            assert len(accepted) == 1, describe(answers)
        else:
            # Not checked: refused, and the username is locked now.
            assert accepted == [], describe(answers)
            again = attempt(requests.Session(), BURST - 1)
            assert (again.status_code, again.json()) == (400, WRONG)
            assert 0 < int(again.headers["Retry-After"]) <= 60
            assert len(log.read_text().splitlines()) == len(checked)
