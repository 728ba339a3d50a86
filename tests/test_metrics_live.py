"""Prometheus metrics under a real gunicorn with two workers (SPEC §7.2):
counts are exact whichever worker served a request or a scrape, and survive
a worker's death (prometheus_client's multiprocess mode)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import requests

from .conftest import metric_samples
from .live import REQUEST_TIMEOUT, WORKER_MODELS, LiveServer, live_server, race

#: Simultaneous password grants, so that both workers serve some.
GRANTS = 8
#: Simultaneous refreshes presenting one refresh token (grace period on).
RACERS = 12


def scrape(server: LiveServer) -> dict[str, float]:
    response = requests.get(server.base_url + "/metrics", timeout=REQUEST_TIMEOUT)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    samples = metric_samples(response.text)
    return {
        key: value
        for key, value in samples.items()
        if "_total" in key
        or key.startswith("oauth2_token_request_duration_seconds_count")
    }


def concurrent_password_grants(server: LiveServer, n: int) -> list[str]:
    """``n`` password grants at once; their refresh tokens."""
    tokens: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def grant() -> None:
        try:
            barrier.wait(timeout=REQUEST_TIMEOUT)
            tokens.append(server.password_grant()["refresh_token"])
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=grant) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return tokens


def workers(server: LiveServer) -> set[int]:
    """The gunicorn master's child processes."""
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {int(child) for child in children}


def replace_a_worker(server: LiveServer) -> None:
    """SIGKILL one worker and wait until gunicorn has forked its successor."""
    before = workers(server)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = workers(server)
        if victim not in now and len(now) == len(before):
            return
        time.sleep(0.1)
    raise AssertionError(f"no worker replaced {victim}\n{server.output()}")


def since(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """What was counted between two scrapes: the series that moved, by how much."""
    moved = {key: value - before.get(key, 0.0) for key, value in after.items()}
    return {key: value for key, value in moved.items() if value}


#: The readiness probe: GET on the token endpoint.
PROBE = 'oauth2_token_requests_total{grant_type="unknown",outcome="invalid_request"}'
PROBE_TIMED = 'oauth2_token_request_duration_seconds_count{grant_type="unknown"}'

#: What the sequence counts (every other series stays where it was).
EXPECTED = {
    'oauth2_token_requests_total{grant_type="password",outcome="ok"}': 9.0,
    'oauth2_token_requests_total{grant_type="password",outcome="invalid_grant"}': 1.0,
    'oauth2_token_requests_total{grant_type="refresh_token",outcome="ok"}': 13.0,
    'oauth2_token_requests_total{grant_type="refresh_token",outcome="invalid_grant"}': 3.0,
    'oauth2_token_requests_total{grant_type="unknown",outcome="unsupported_grant_type"}': 1.0,
    "oauth2_refresh_tokens_rotated_total": 2.0,
    "oauth2_refresh_token_reuse_detected_total": 1.0,
    "oauth2_grace_replays_total": 11.0,
    'oauth2_tokens_revoked_total{reason="reuse_detected"}': 1.0,
    'oauth2_tokens_revoked_total{reason="revocation"}': 1.0,
    'oauth2_token_request_duration_seconds_count{grant_type="password"}': 10.0,
    'oauth2_token_request_duration_seconds_count{grant_type="refresh_token"}': 16.0,
    'oauth2_token_request_duration_seconds_count{grant_type="unknown"}': 1.0,
}


def test_counts_are_exact_across_two_gunicorn_workers(
    tmp_path: Path, database_url: str
) -> None:
    """A known sequence — concurrent grants, a race of retries within the
    grace period, a reuse, a revocation, refusals — then every scrape, from
    whichever worker answers it, shows exactly those counts; and still does
    after a worker is killed and replaced."""
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    config = {
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "FLASK_OAUTH2_REFRESH_TOKEN_GRACE_PERIOD": "30",
    }
    with live_server(tmp_path, database_url, WORKER_MODELS["sync"], config) as server:
        # What came before: the readiness probe's GETs of the token endpoint.
        before = scrape(server)
        assert {key for key, value in before.items() if value} <= {
            PROBE,
            PROBE_TIMED,
        }, before
        # 8 ok password grants, served by both workers at once.
        original, revoked, *_ = concurrent_password_grants(server, GRANTS)
        # 12 simultaneous refreshes of one token: one rotation, 11 replays.
        raced = race(server, original, RACERS)
        assert [r.status_code for r in raced] == [200] * RACERS
        successor = raced[0].json()["refresh_token"]
        # The successor used (a second rotation): the grace window closes,
        # and the original presented again is reuse.
        assert server.refresh(successor).status_code == 200
        reused = server.refresh(original)
        assert reused.json()["error"] == "invalid_grant"
        assert server.refresh("no-such-token").json()["error"] == "invalid_grant"
        # A revocation, then its token refused.
        response = requests.post(
            server.base_url + "/oauth2/revoke",
            data={"token": revoked},
            auth=server.credentials,
            timeout=REQUEST_TIMEOUT,
        )
        assert response.status_code == 200
        assert server.refresh(revoked).json()["error"] == "invalid_grant"
        assert server.token({"grant_type": "implicit"}).status_code == 400
        wrong = {"grant_type": "password", "username": "demo", "password": "no"}
        assert server.token(wrong).json()["error"] == "invalid_grant"
        server.password_grant()

        for _ in range(6):  # sync workers: scrapes land on either
            assert since(before, scrape(server)) == EXPECTED
        pids = {path.stem.rpartition("_")[2] for path in multiproc.glob("*.db")}
        assert len(pids) >= 2, f"one worker served everything: {sorted(pids)}"

        replace_a_worker(server)
        for _ in range(4):
            assert since(before, scrape(server)) == EXPECTED
