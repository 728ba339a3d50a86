"""The password lock (RFC 6749 §4.3.2: the server MUST protect the password
grant against brute force; SPEC §6.1), on SQLite and PostgreSQL.

``tests/test_live_lockout.py`` shows two gunicorn instances sharing it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from werkzeug.test import TestResponse

from flask_refreshgrant import ClientCredentials, ConfigurationError, signals
from flask_refreshgrant.config import Settings
from flask_refreshgrant.grants.lockout import FORGET_AFTER_SECONDS
from flask_refreshgrant.security import token_digest

from .conftest import Harness, all_stored_text, assert_burst_bounded, listen_to

WRONG = {"error": "invalid_grant", "error_description": "Invalid username or password."}


def attempt(
    h: Harness, client: ClientCredentials, password: str, username: str = "alice"
) -> TestResponse:
    return h.token(
        {"grant_type": "password", "username": username, "password": password},
        client,
    )


def outcome(response: TestResponse) -> tuple[int, Any, str | None]:
    """Status, body and ``Retry-After``: everything a client can see."""
    return response.status_code, response.json, response.headers.get("Retry-After")


def lockout_rows(h: Harness) -> list[dict[str, Any]]:
    with h.app.app_context():
        model = h.oauth.state().models.password_lockout
        assert model is not None
        table = model.__table__  # type: ignore[attr-defined]
        return [dict(row._mapping) for row in h.db.session.execute(sa.select(table))]


@pytest.fixture
def client(harness: Harness) -> ClientCredentials:
    return harness.create_client(grant_types=("password",))


def test_five_failures_lock_the_username_even_for_the_right_password(
    harness: Harness, client: ClientCredentials
) -> None:
    """SPEC §6.1: after ``OAUTH2_PASSWORD_MAX_FAILURES`` (5) failures every
    attempt gets the wrong-password body, the right password too; only
    ``Retry-After`` tells the lock."""
    for _ in range(4):
        assert outcome(attempt(harness, client, "guess")) == (400, WRONG, None)
    # The fifth failure starts the lock (60 s) and says so.
    assert outcome(attempt(harness, client, "guess")) == (400, WRONG, "60")
    harness.clock.advance(10)
    assert outcome(attempt(harness, client, "wonderland")) == (400, WRONG, "50")
    harness.clock.advance(50)
    assert attempt(harness, client, "wonderland").status_code == 200


def test_unknown_usernames_are_counted_and_locked_the_same_way(
    harness: Harness, client: ClientCredentials
) -> None:
    """No oracle: an unknown username goes through the very same sequence of
    answers as a known one with wrong passwords."""
    known = [outcome(attempt(harness, client, "guess")) for _ in range(7)]
    unknown = [outcome(attempt(harness, client, "guess", "nobody")) for _ in range(7)]
    assert known == unknown
    assert [retry for _, _, retry in known] == [None] * 4 + ["60"] * 3


def test_attempts_while_locked_neither_count_nor_extend_the_lock(
    harness: Harness, client: ClientCredentials
) -> None:
    for _ in range(5):
        attempt(harness, client, "guess")
    calls: list[str] = []
    for _ in range(20):
        harness.clock.advance(2)
        calls.append(attempt(harness, client, "guess").headers["Retry-After"])
    assert calls == [str(60 - 2 * n) for n in range(1, 21)]
    harness.clock.advance(20)
    # The lock ended on time, and the count starts from zero: four more
    # failures do not lock again.
    for _ in range(4):
        assert outcome(attempt(harness, client, "guess")) == (400, WRONG, None)
    assert attempt(harness, client, "wonderland").status_code == 200


def test_each_further_lock_doubles_up_to_the_cap(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(
        OAUTH2_PASSWORD_MAX_FAILURES=2,
        OAUTH2_PASSWORD_LOCKOUT_SECONDS=60,
        OAUTH2_PASSWORD_MAX_LOCKOUT_SECONDS=200,
    )
    h.create_user()
    client = h.create_client(grant_types=("password",))
    locks = []
    for _ in range(4):
        attempt(h, client, "guess")
        locks.append(int(attempt(h, client, "guess").headers["Retry-After"]))
        h.clock.advance(locks[-1])
    assert locks == [60, 120, 200, 200]


def test_a_success_resets_the_count_and_the_doubling(
    harness: Harness, client: ClientCredentials
) -> None:
    for _ in range(4):
        attempt(harness, client, "guess")
    assert attempt(harness, client, "wonderland").status_code == 200
    assert lockout_rows(harness) == []
    for _ in range(4):
        assert outcome(attempt(harness, client, "guess")) == (400, WRONG, None)
    assert attempt(harness, client, "guess").headers["Retry-After"] == "60"


def test_a_username_quiet_for_a_day_counts_from_zero(
    harness: Harness, client: ClientCredentials
) -> None:
    for _ in range(4):
        attempt(harness, client, "guess")
    harness.clock.advance(FORGET_AFTER_SECONDS + 1)
    for _ in range(4):
        assert outcome(attempt(harness, client, "guess")) == (400, WRONG, None)


def test_lock_is_per_username_not_per_client(harness: Harness) -> None:
    one = harness.create_client(grant_types=("password",))
    two = harness.create_client(grant_types=("password",))
    for index in range(5):
        attempt(harness, (one, two)[index % 2], "guess")
    assert attempt(harness, two, "wonderland").headers["Retry-After"] == "60"
    harness.create_user("bob", "builder")
    bob = attempt(harness, one, "builder", "bob")
    assert bob.status_code == 200


def test_failed_client_authentication_spends_no_attempt(
    harness: Harness, client: ClientCredentials
) -> None:
    """The client is authenticated first: without valid client credentials
    nobody can lock a user out through the password grant."""
    forged = ClientCredentials(client.client_id, "not-the-secret")
    for _ in range(10):
        assert attempt(harness, forged, "guess").json == {
            "error": "invalid_client",
            "error_description": "Client authentication failed.",
        }
    assert lockout_rows(harness) == []
    assert attempt(harness, client, "wonderland").status_code == 200


def test_max_failures_zero_turns_the_lock_off(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(OAUTH2_PASSWORD_MAX_FAILURES=0)
    h.create_user()
    client = h.create_client(grant_types=("password",))
    for _ in range(30):
        assert outcome(attempt(h, client, "guess")) == (400, WRONG, None)
    assert attempt(h, client, "wonderland").status_code == 200
    assert lockout_rows(h) == []


def test_the_lockout_signal_fires_when_a_lock_starts(
    harness: Harness, client: ClientCredentials
) -> None:
    with listen_to(signals.password_lockout) as calls:
        for _ in range(8):
            attempt(harness, client, "guess")
    start = int(harness.clock.now)
    assert calls == [
        {"username": "alice", "lock_seconds": 60, "locked_until": start + 60}
    ]


def test_usernames_are_stored_as_digests_only(
    harness: Harness, client: ClientCredentials
) -> None:
    attempt(harness, client, "guess", "carol-typed-her-password-here")
    stored = all_stored_text(harness)
    assert "carol-typed-her-password-here" not in stored
    assert token_digest("carol-typed-her-password-here") in stored


def test_check_password_helper_shares_the_count_and_skips_verify_when_locked(
    harness: Harness, client: ClientCredentials
) -> None:
    """SPEC §6.1: the public helper an app's own login form calls."""
    verified: list[str] = []

    def check(password: str) -> Any:
        def verify() -> str | None:
            verified.append(password)
            return "alice" if password == "wonderland" else None

        with harness.app.test_request_context():
            return harness.oauth.check_password("alice", verify)

    for _ in range(3):
        refused = check("guess")
        assert (refused.user, refused.retry_after, refused.locked) == (
            None,
            None,
            False,
        )
    for _ in range(2):  # the password grant counts on the same record
        attempt(harness, client, "guess")
    locked = check("wonderland")
    assert (locked.user, locked.retry_after, locked.locked) == (None, 60, True)
    assert verified == ["guess"] * 3  # the right password was never checked
    harness.clock.advance(60)
    assert check("wonderland").user == "alice"


def test_concurrent_failures_lose_no_count(harness: Harness) -> None:
    """Counting is one atomic statement: failures counted at once from many
    connections all land (two instances on one database do the same)."""
    threads_count = 12
    store = harness.oauth.state(harness.app).server.lockout.store
    barrier = threading.Barrier(threads_count)
    errors: list[BaseException] = []

    def fail_once() -> None:
        try:
            with harness.app.app_context():
                barrier.wait(timeout=30)
                store.count_attempt(
                    token_digest("alice"),
                    now=int(harness.clock.now),
                    max_failures=1000,
                    first_lock=60,
                    max_lock=900,
                    forget_before=0,
                )
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=fail_once) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    (row,) = lockout_rows(harness)
    assert row["failures"] == threads_count


def test_a_burst_of_check_password_calls_checks_at_most_max_failures(
    harness: Harness,
) -> None:
    """SPEC §13: the attempt is counted before ``verify`` runs, so of 24
    simultaneous calls (23 wrong, then the right one) at most 5 passwords
    are checked, and the right one passes only if it was one of them."""
    burst = 24
    passwords = [f"guess-{index}" for index in range(burst - 1)] + ["wonderland"]
    barrier = threading.Barrier(burst)
    verified: list[str] = []
    results: dict[int, Any] = {}
    errors: list[BaseException] = []

    def run(index: int) -> None:
        password = passwords[index]

        def verify() -> str | None:
            verified.append(password)
            return "alice" if password == "wonderland" else None

        try:
            with harness.app.test_request_context():
                barrier.wait(timeout=30)
                results[index] = harness.oauth.check_password("alice", verify)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(burst)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert_burst_bounded(verified, "wonderland", max_failures=5)
    accepted = [i for i, result in results.items() if result.user is not None]
    assert accepted == ([burst - 1] if "wonderland" in verified else [])
    if "wonderland" not in verified:
        assert results[burst - 1].locked


def test_a_burst_of_wrong_passwords_checks_exactly_max_failures(
    harness: Harness,
) -> None:
    """No success to reset the count: of 24 simultaneous wrong guesses,
    exactly 5 are checked and the username ends locked."""
    burst = 24
    barrier = threading.Barrier(burst)
    verified: list[int] = []
    results: dict[int, Any] = {}

    def run(index: int) -> None:
        def verify() -> str | None:
            verified.append(index)
            return None

        with harness.app.test_request_context():
            barrier.wait(timeout=30)
            results[index] = harness.oauth.check_password("alice", verify)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(burst)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == burst
    assert len(verified) == 5, verified
    assert sum(1 for result in results.values() if result.locked) >= burst - 5


def test_purge_deletes_only_records_that_would_count_from_zero(
    harness: Harness, client: ClientCredentials
) -> None:
    for _ in range(3):
        attempt(harness, client, "guess", "old")
    harness.clock.advance(FORGET_AFTER_SECONDS + 1)
    for _ in range(5):
        attempt(harness, client, "guess", "locked")
    attempt(harness, client, "guess", "recent")
    result = harness.app.test_cli_runner().invoke(args=["oauth2", "purge"])
    assert result.exit_code == 0, result.output
    assert "1 stale password lock records" in result.output
    digests = {row["username_digest"] for row in lockout_rows(harness)}
    assert digests == {token_digest("locked"), token_digest("recent")}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("OAUTH2_PASSWORD_MAX_FAILURES", -1),
        ("OAUTH2_PASSWORD_MAX_FAILURES", True),
        ("OAUTH2_PASSWORD_MAX_FAILURES", "five"),
        ("OAUTH2_PASSWORD_LOCKOUT_SECONDS", 0),
        ("OAUTH2_PASSWORD_MAX_LOCKOUT_SECONDS", "1.5"),
    ],
)
def test_bad_lockout_settings_name_key_and_value(key: str, value: object) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_config({key: value})
    assert key in str(raised.value) and repr(value) in str(raised.value)


def test_lockout_settings_from_the_environment() -> None:
    settings = Settings.from_config(
        {
            "OAUTH2_PASSWORD_MAX_FAILURES": "3",
            "OAUTH2_PASSWORD_LOCKOUT_SECONDS": "30",
            "OAUTH2_PASSWORD_MAX_LOCKOUT_SECONDS": " 600 ",
        }
    )
    assert (
        settings.password_max_failures,
        settings.password_lockout_seconds,
        settings.password_max_lockout_seconds,
    ) == (3, 30, 600)
    defaults = Settings.from_config({})
    assert (
        defaults.password_max_failures,
        defaults.password_lockout_seconds,
        defaults.password_max_lockout_seconds,
    ) == (5, 60, 900)
