"""The real example app under a real gunicorn, over real HTTP, on both databases.

What the in-process tests cannot show: rotation stays atomic across several
worker processes (and threads) sharing one SQLite file or one PostgreSQL
database (SPEC §6), and the banner's curl commands work when pasted (SPEC §8).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from .live import (
    REQUEST_TIMEOUT,
    WORKER_MODELS,
    LiveServer,
    count_rows,
    database_kind,
    describe,
    live_server,
    parse_banner_credentials,
    race,
)

#: Simultaneous requests presenting the same refresh token.
RACERS = 12
#: Races per server.
TRIALS = 5
#: Revocations amid concurrent renewal-off refreshes, per server.
REVOCATION_TRIALS = 5
#: The rotation's conditional ``UPDATE … WHERE rotated_at IS NULL``, as echoed.
CONDITIONAL_UPDATE = "UPDATE oauth2_refresh_token SET rotated_at"


def assert_invalid_grant(response: requests.Response, context: str = "") -> None:
    assert response.status_code == 400, (context, response.status_code, response.text)
    assert response.json()["error"] == "invalid_grant", (context, response.text)


def run_race(server: LiveServer, label: str, trial: int) -> tuple[str, str]:
    """One trial: a fresh grant, then RACERS simultaneous refreshes of its token.

    Returns the winner's new (access token, refresh token), after checking that
    exactly one request won and every other one got ``invalid_grant``.
    """
    original = server.password_grant()["refresh_token"]
    updates_before = server.stdout().count(CONDITIONAL_UPDATE)
    started = time.monotonic()
    responses = race(server, original, RACERS)
    elapsed = time.monotonic() - started
    # How many requests got past the read checks to the conditional UPDATE,
    # i.e. how many the database itself had to decide between (echoed SQL).
    contenders = server.stdout().count(CONDITIONAL_UPDATE) - updates_before
    winners = [r for r in responses if r.status_code == 200]
    summary = (
        f"{label} trial {trial}: {len(winners)}/{len(responses)} got 200 "
        f"[{describe(responses)}], {contenders} reached the conditional "
        f"UPDATE, in {elapsed:.2f} s"
    )
    print(summary)
    assert len(responses) == RACERS, summary
    assert not [r for r in responses if r.status_code >= 500], (
        f"{summary}\n{server.output()}"
    )
    assert len(winners) == 1, f"{summary}\n{server.output()}"
    for response in responses:
        if response is not winners[0]:
            assert_invalid_grant(response, summary)
    body = winners[0].json()
    assert body["refresh_token"] != original
    assert body["scope"] == "PRODUCTION"
    # The presented token is rotated out, whatever the reuse setting.
    assert_invalid_grant(server.refresh(original), f"{summary}: original reused")
    return body["access_token"], body["refresh_token"]


@pytest.mark.parametrize(
    "reuse_detection", [False, True], ids=["reuse-off", "reuse-on"]
)
@pytest.mark.parametrize("workers", list(WORKER_MODELS), ids=list(WORKER_MODELS))
def test_concurrent_refresh_rotates_exactly_once(
    tmp_path: Path, database_url: str, workers: str, reuse_detection: bool
) -> None:
    """SPEC §6: of N concurrent requests presenting one refresh token, exactly
    one rotates it, across worker processes and threads; the rest get
    ``invalid_grant``, never a 500 or a 503."""
    label = (
        f"{database_kind(database_url)}/{workers}/"
        f"reuse-{'on' if reuse_detection else 'off'}"
    )
    config = {
        "FLASK_OAUTH2_REFRESH_TOKEN_REUSE_DETECTION": str(reuse_detection).lower(),
        # Flask-SQLAlchemy echoes every statement to stdout: shows how many
        # racers reached the conditional UPDATE.
        "FLASK_SQLALCHEMY_ECHO": "true",
    }
    with live_server(tmp_path, database_url, WORKER_MODELS[workers], config) as server:
        for trial in range(1, TRIALS + 1):
            access_token, successor = run_race(server, label, trial)
            if reuse_detection:
                # The losers presented a rotated-out token: reuse (RFC 9700
                # §4.14.2), so the whole family is revoked, the winner's
                # successor and access token included.
                assert_invalid_grant(
                    server.refresh(successor), f"{label} trial {trial}: successor"
                )
                me = server.me(access_token)
                assert me.status_code == 401, (me.status_code, me.text)
            else:
                # Exactly one successor exists, and it works.
                me = server.me(access_token)
                assert me.status_code == 200, (me.status_code, me.text)
                assert me.json()["scope"] == "PRODUCTION"
                again = server.refresh(successor)
                assert again.status_code == 200, (label, trial, again.text)
                assert again.json()["refresh_token"] != successor
                assert_invalid_grant(
                    server.refresh(successor), f"{label} trial {trial}: rotated"
                )


def banner_section(banner: str, heading: str) -> list[str]:
    """The command lines under the ``# heading`` comment, up to a blank line."""
    lines = banner.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("#") and heading in line:
            section: list[str] = []
            for command in lines[index + 1 :]:
                if not command.strip():
                    break
                section.append(command)
            assert section, f"nothing under {heading!r}:\n{banner}"
            return section
    raise AssertionError(f"no {heading!r} section in the banner:\n{banner}")


def bash(script: str, server: LiveServer) -> str:
    result = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, (
        f"{script}\nexit {result.returncode}\nstdout: {result.stdout}\n"
        f"stderr: {result.stderr}\n{server.output()}"
    )
    return result.stdout


def test_banner_curl_commands_work_when_pasted(
    tmp_path: Path, database_url: str
) -> None:
    """SPEC §8: the curl commands printed on first start work as printed."""
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed: the banner's commands need it")
    with live_server(tmp_path, database_url) as server:
        banner = server.banner()  # exactly one, though two workers seeded at once
        client_id, secret = server.credentials
        assert parse_banner_credentials(banner) == (client_id, secret)
        assert (server.instance / "secret_key").exists()  # our instance folder
        assert "demo user:     demo / demo" in banner
        assert "scopes:        PRODUCTION SANDBOX" in banner
        assert server.base_url + "/oauth2/token" in banner
        # Seeding ran once: one demo user, one demo client.
        assert count_rows(database_url, "SELECT count(*) FROM example_user") == 1
        assert count_rows(database_url, "SELECT count(*) FROM oauth2_client") == 1

        # "Or both at once": run verbatim, then show the first refresh token.
        both = banner_section(banner, "Or both at once:")
        assert len(both) == 2, both
        output = bash("\n".join([*both, 'printf "\\n%s\\n" "$REFRESH_TOKEN"']), server)
        *response_lines, first_refresh = output.strip().splitlines()
        body = json.loads("\n".join(response_lines))
        assert body["token_type"] == "Bearer"
        assert body["access_token"]
        assert body["scope"] == "PRODUCTION"
        assert body["refresh_token"] and first_refresh
        assert body["refresh_token"] != first_refresh

        # The protected API, with a real access token.
        (me_command,) = banner_section(banner, "Call the protected API")
        assert "ACCESS_TOKEN" in me_command
        me = json.loads(
            bash(me_command.replace("ACCESS_TOKEN", body["access_token"]), server)
        )
        assert me["user"] == "demo", me
        assert me["client_id"] == client_id, me
        assert me["scope"] == "PRODUCTION", me

        # The rotation really happened: the first refresh token is spent, and
        # presenting it again is reuse, which revokes the grant's tokens.
        assert_invalid_grant(server.refresh(first_refresh), "first refresh token")
        assert server.me(body["access_token"]).status_code == 401

        # Steps 1 and 2, one after the other, as a user would paste them.
        (step1,) = banner_section(banner, "1. Password grant")
        granted = json.loads(bash(step1, server))
        assert granted["scope"] == "PRODUCTION SANDBOX"
        (step2,) = banner_section(banner, "2. Refresh grant")
        assert "REFRESH_TOKEN" in step2
        renewed = json.loads(
            bash(step2.replace("REFRESH_TOKEN", granted["refresh_token"]), server)
        )
        assert renewed["refresh_token"] != granted["refresh_token"]
        assert renewed["scope"] == "PRODUCTION"


def test_renewal_off_returns_the_same_refresh_token(
    tmp_path: Path, database_url: str
) -> None:
    """SPEC §3, §5: with renewal off the presented refresh token comes back,
    still valid, and its remaining lifetime does not grow; concurrent
    refreshes all succeed with that same token."""
    config = {"FLASK_OAUTH2_RENEW_REFRESH_TOKEN_FOR_REFRESH_GRANT": "false"}
    with live_server(
        tmp_path, database_url, WORKER_MODELS["gthread"], config
    ) as server:
        granted = server.password_grant()
        original = granted["refresh_token"]
        assert granted["refresh_token_expires_in"] == 86400
        first = server.refresh(original)
        assert first.status_code == 200, first.text
        time.sleep(1.1)
        second = server.refresh(original)
        assert second.status_code == 200, second.text
        one, two = first.json(), second.json()
        assert one["refresh_token"] == two["refresh_token"] == original
        assert one["access_token"] != two["access_token"]
        assert two["refresh_token_expires_in"] < one["refresh_token_expires_in"]
        assert one["refresh_token_expires_in"] <= granted["refresh_token_expires_in"]
        for access_token in (one["access_token"], two["access_token"]):
            assert server.me(access_token).status_code == 200

        responses = race(server, original, RACERS)
        summary = f"{database_kind(database_url)} renewal off: {describe(responses)}"
        print(summary)
        assert [r.status_code for r in responses] == [200] * RACERS, (
            f"{summary}\n{server.output()}"
        )
        assert {r.json()["refresh_token"] for r in responses} == {original}
        assert len({r.json()["access_token"] for r in responses}) == RACERS


def revoke_amid_refreshes(server: LiveServer, label: str) -> list[str]:
    """Six clients keep refreshing with one refresh token (renewal off) until
    refused; meanwhile the token is revoked. Returns the access tokens the
    refreshes got, after checking that every client ended at invalid_grant."""
    refresh_token = server.password_grant()["refresh_token"]
    issued: list[str] = []
    refused: list[requests.Response] = []
    errors: list[BaseException] = []
    enough = threading.Event()

    def keep_refreshing() -> None:
        try:
            with requests.Session() as session:
                for _ in range(200):
                    response = server.refresh(refresh_token, session=session)
                    if response.status_code != 200:
                        refused.append(response)
                        return
                    issued.append(response.json()["access_token"])
                    if len(issued) >= 10:
                        enough.set()
        except BaseException as error:
            errors.append(error)
            enough.set()

    threads = [threading.Thread(target=keep_refreshing) for _ in range(6)]
    for thread in threads:
        thread.start()
    assert enough.wait(REQUEST_TIMEOUT), label
    revoked = requests.post(
        server.base_url + "/oauth2/revoke",
        data={"token": refresh_token, "token_type_hint": "refresh_token"},
        auth=server.credentials,
        timeout=REQUEST_TIMEOUT,
    )
    for thread in threads:
        thread.join()
    assert not errors, (label, errors)
    assert revoked.status_code == 200, (label, revoked.text)
    assert len(refused) == len(threads), (label, describe(refused))
    for response in refused:
        assert_invalid_grant(response, label)
    return issued


def test_revocation_amid_renewal_off_refreshes_leaves_no_live_access_token(
    tmp_path: Path, database_url: str
) -> None:
    """Renewal off: once a revocation and the refreshes around it have all
    answered, no access token those refreshes returned still works — a
    refresh that read the token before the revocation and wrote after it
    must not outlive it."""
    config = {"FLASK_OAUTH2_RENEW_REFRESH_TOKEN_FOR_REFRESH_GRANT": "false"}
    with live_server(
        tmp_path, database_url, WORKER_MODELS["gthread"], config
    ) as server:
        for trial in range(REVOCATION_TRIALS):
            label = f"{database_kind(database_url)} trial {trial}"
            issued = revoke_amid_refreshes(server, label)
            live = [t for t in issued if server.me(t).status_code != 401]
            print(f"{label}: {len(issued)} access tokens issued, {len(live)} live")
            assert live == [], server.output()


@pytest.mark.parametrize("workers", list(WORKER_MODELS), ids=list(WORKER_MODELS))
def test_concurrent_refresh_with_grace_period_gets_identical_responses(
    tmp_path: Path, database_url: str, workers: str
) -> None:
    """SPEC §3, §6: with a grace period, N simultaneous requests presenting
    one refresh token all get 200 with the identical body (one rotation, its
    response replayed), and the grant still has exactly one live token."""
    label = f"{database_kind(database_url)}/{workers}/grace"
    config = {"FLASK_OAUTH2_REFRESH_TOKEN_GRACE_PERIOD": "30"}
    with live_server(tmp_path, database_url, WORKER_MODELS[workers], config) as server:
        for trial in range(1, TRIALS + 1):
            original = server.password_grant()["refresh_token"]
            responses = race(server, original, RACERS)
            summary = f"{label} trial {trial}: {describe(responses)}"
            print(summary)
            assert [r.status_code for r in responses] == [200] * RACERS, (
                f"{summary}\n{server.output()}"
            )
            bodies = [r.json() for r in responses]
            tokens = {(b["access_token"], b["refresh_token"]) for b in bodies}
            assert len(tokens) == 1, summary
            ((access_token, successor),) = tokens
            assert successor != original
            # The one successor works, and once it is used the window closes:
            # the original is now a reused token and revokes the family.
            renewed = server.refresh(successor)
            assert renewed.status_code == 200, renewed.text
            assert_invalid_grant(server.refresh(original), f"{summary}: late retry")
            assert_invalid_grant(
                server.refresh(renewed.json()["refresh_token"]),
                f"{summary}: family revoked",
            )
            assert server.me(access_token).status_code == 401
