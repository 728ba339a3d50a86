"""Prometheus metrics (SPEC §7.2), in-process: exact counts after a scripted
sequence, bounded labels, one registry per app, and the package without
``prometheus_client``. Under gunicorn with several workers: see
``test_metrics_live.py``."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import prometheus_client
import pytest
import sqlalchemy as sa

from flask_refreshgrant import ConfigurationError, RefreshGrant, signals
from flask_refreshgrant.metrics import DURATION_BUCKETS

from .conftest import (
    FakeClock,
    Harness,
    basic_auth,
    build_app,
    listen_to,
    metric_samples,
)

METRICS = {"OAUTH2_METRICS_PATH": "/metrics"}

#: Every counter at zero: what a scrape shows before any request.
ZERO = {
    "oauth2_refresh_tokens_rotated_total": 0.0,
    "oauth2_refresh_token_reuse_detected_total": 0.0,
    "oauth2_grace_replays_total": 0.0,
    "oauth2_password_lockouts_total": 0.0,
}


def scrape(h: Harness) -> dict[str, float]:
    response = h.client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    return metric_samples(response.text)


def counters(samples: dict[str, float]) -> dict[str, float]:
    return {key: value for key, value in samples.items() if "_total" in key}


def durations(samples: dict[str, float]) -> dict[str, float]:
    """Requests timed, by grant type."""
    prefix = "oauth2_token_request_duration_seconds_count"
    return {k: v for k, v in samples.items() if k.startswith(prefix)}


@pytest.fixture
def metered(make_harness: Callable[..., Harness]) -> Harness:
    h = make_harness(**METRICS)
    h.create_user()
    return h


def test_counts_are_exact_after_a_scripted_sequence(metered: Harness) -> None:
    """SPEC §7.2: each request counted once under its grant type and outcome
    (``ok`` or the RFC 6749 error code), each rotation, reuse detection,
    revocation (by reason) and lockout once."""
    h = metered
    client = h.create_client()
    assert counters(scrape(h)) == ZERO

    first = h.password_grant(client).json
    assert first is not None
    second = h.refresh(client, first["refresh_token"]).json
    assert second is not None
    assert h.refresh(client, second["refresh_token"]).status_code == 200
    # Reuse: the family goes (a revocation with reason reuse_detected).
    assert h.refresh(client, second["refresh_token"]).status_code == 400
    assert h.refresh(client, "no-such-token").status_code == 400
    wrong = {"grant_type": "password", "username": "alice", "password": "guess"}
    assert h.token(wrong, client).status_code == 400
    stranger = {"Authorization": basic_auth(client.client_id, "wrong-secret")}
    refresh = {"grant_type": "refresh_token", "refresh_token": "x"}
    assert h.token(refresh, headers=stranger).status_code == 401
    assert h.token({"grant_type": "urn:made:up"}, client).status_code == 400
    not_a_form = h.client.post("/oauth2/token", json={"grant_type": "password"})
    assert not_a_form.status_code == 400
    assert h.client.get("/oauth2/token").status_code == 405

    third = h.password_grant(client).json
    assert third is not None
    revoked = h.client.post(
        "/oauth2/revoke",
        data={"token": third["refresh_token"]},
        headers={"Authorization": basic_auth(client.client_id, client.client_secret)},
    )
    assert revoked.status_code == 200
    cli = h.app.test_cli_runner().invoke(
        args=["oauth2", "revoke", "--client-id", client.client_id]
    )
    assert cli.exit_code == 0, cli.output
    with h.app.app_context():
        signals.emit(signals.password_lockout, username="alice")

    samples = scrape(h)
    assert counters(samples) == {
        'oauth2_token_requests_total{grant_type="password",outcome="ok"}': 2.0,
        'oauth2_token_requests_total{grant_type="password",outcome="invalid_grant"}': 1.0,
        'oauth2_token_requests_total{grant_type="refresh_token",outcome="ok"}': 2.0,
        'oauth2_token_requests_total{grant_type="refresh_token",outcome="invalid_grant"}': 2.0,
        'oauth2_token_requests_total{grant_type="refresh_token",outcome="invalid_client"}': 1.0,
        'oauth2_token_requests_total{grant_type="unknown",outcome="unsupported_grant_type"}': 1.0,
        'oauth2_token_requests_total{grant_type="unknown",outcome="invalid_request"}': 2.0,
        "oauth2_refresh_tokens_rotated_total": 2.0,
        "oauth2_refresh_token_reuse_detected_total": 1.0,
        "oauth2_grace_replays_total": 0.0,
        'oauth2_tokens_revoked_total{reason="reuse_detected"}': 1.0,
        'oauth2_tokens_revoked_total{reason="revocation"}': 1.0,
        'oauth2_tokens_revoked_total{reason="cli"}': 1.0,
        "oauth2_password_lockouts_total": 1.0,
    }
    assert durations(samples) == {
        'oauth2_token_request_duration_seconds_count{grant_type="password"}': 3.0,
        'oauth2_token_request_duration_seconds_count{grant_type="refresh_token"}': 5.0,
        'oauth2_token_request_duration_seconds_count{grant_type="unknown"}': 3.0,
    }
    # The histogram's buckets are cumulative and end in +Inf with every request.
    buckets = [
        samples[
            f'oauth2_token_request_duration_seconds_bucket{{grant_type="refresh_token",le="{le}"}}'
        ]
        for le in [*(str(b) for b in DURATION_BUCKETS), "+Inf"]
    ]
    assert buckets == sorted(buckets) and buckets[-1] == 5.0
    sum_key = 'oauth2_token_request_duration_seconds_sum{grant_type="refresh_token"}'
    assert samples[sum_key] > 0


def test_a_grace_replay_is_counted_and_signalled(
    make_harness: Callable[..., Harness],
) -> None:
    """SPEC §6: ``grace_replay_served`` fires when a retry gets the first
    response; it is a successful request but no rotation."""
    h = make_harness(**METRICS, OAUTH2_REFRESH_TOKEN_GRACE_PERIOD=30)
    h.create_user()
    client = h.create_client()
    first = h.password_grant(client).json
    assert first is not None
    second = h.refresh(client, first["refresh_token"])
    with listen_to(signals.grace_replay_served) as replays:
        retry = h.refresh(client, first["refresh_token"])
    assert retry.json == second.json
    assert len(replays) == 1
    family_id = replays[0]["family_id"]
    assert replays == [
        {"client_id": client.client_id, "user_id": "1", "family_id": family_id}
    ]
    assert family_id is not None
    samples = counters(scrape(h))
    assert samples["oauth2_grace_replays_total"] == 1.0
    assert samples["oauth2_refresh_tokens_rotated_total"] == 1.0
    ok = 'oauth2_token_requests_total{grant_type="refresh_token",outcome="ok"}'
    assert samples[ok] == 2.0


def test_a_database_outage_is_counted(tmp_path: Path) -> None:
    """A ``503`` from the blueprint's error handler is a token request too,
    with outcome ``temporarily_unavailable``."""
    path = tmp_path / "locked.db"
    engine_options = {"poolclass": sa.pool.NullPool, "connect_args": {"timeout": 0.05}}
    clock = FakeClock()
    app, db, oauth, user_model = build_app(
        f"sqlite:///{path}",
        clock,
        {**METRICS, "SQLALCHEMY_ENGINE_OPTIONS": engine_options},
    )
    h = Harness(app, db, oauth, user_model, app.test_client(), clock)
    h.create_user()
    client = h.create_client()
    tokens = h.password_grant(client).json
    assert tokens is not None
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        assert h.refresh(client, tokens["refresh_token"]).status_code == 503
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    samples = scrape(h)
    unavailable = (
        'oauth2_token_requests_total{grant_type="refresh_token",'
        'outcome="temporarily_unavailable"}'
    )
    assert samples[unavailable] == 1.0
    assert "oauth2_refresh_tokens_rotated_total" in samples
    assert samples["oauth2_refresh_tokens_rotated_total"] == 0.0


def test_grant_type_label_never_carries_raw_input(metered: Harness) -> None:
    """Label values stay few: a grant type this app does not serve, a body
    that could not be read, or no body at all is ``unknown``."""
    client = metered.create_client()
    for grant_type in ("x" * 200, "client_credentials\x00", "implicit", "jwt-bearer"):
        metered.token({"grant_type": grant_type}, client)
    metered.client.post(
        "/oauth2/token",
        data=b"grant_type=refresh_token&" + b"x" * 20000,
        content_type="application/x-www-form-urlencoded",
    )
    metered.client.post("/oauth2/token", json={"grant_type": "refresh_token"})
    labels = {
        key.partition("{")[2]
        for key in counters(scrape(metered))
        if key.startswith("oauth2_token_requests_total")
    }
    assert labels == {
        'grant_type="unknown",outcome="invalid_request"}',
        'grant_type="unknown",outcome="unsupported_grant_type"}',
    }


def test_metrics_add_no_sql_to_a_rotating_refresh(
    make_harness: Callable[..., Harness],
) -> None:
    """The refresh hot path's statements (pinned in test_storage.py) are the
    same with metrics on and off."""

    def statements_of_a_refresh(h: Harness) -> list[str]:
        client = h.create_client()
        first = h.password_grant(client).json
        assert first is not None
        with h.app.app_context():
            engine = h.db.engine
        statements: list[str] = []

        def record(*args: object) -> None:
            statements.append(str(args[2]))

        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            assert h.refresh(client, first["refresh_token"]).status_code == 200
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)
        return statements

    off_harness = make_harness()
    off_harness.create_user()  # one database: both apps see alice
    off = statements_of_a_refresh(off_harness)
    on = statements_of_a_refresh(make_harness(**METRICS))
    assert on == off
    assert len(on) >= 3


def test_each_app_has_its_own_registry(
    make_harness: Callable[..., Harness],
) -> None:
    """Several apps in one process (an app factory called twice, this test
    suite) count apart, and nothing lands on prometheus_client's global
    registry."""
    one = make_harness(**METRICS)
    two = make_harness(**METRICS)
    one.create_user()
    one.password_grant(one.create_client())
    ok = 'oauth2_token_requests_total{grant_type="password",outcome="ok"}'
    assert counters(scrape(one))[ok] == 1.0
    assert ok not in counters(scrape(two))
    global_exposition = prometheus_client.generate_latest().decode()
    assert "oauth2_" not in global_exposition


def test_metrics_are_off_by_default(harness: Harness) -> None:
    assert harness.client.get("/metrics").status_code == 404
    with harness.app.app_context():
        assert RefreshGrant.state().metrics is None


def test_metrics_path_is_configurable_and_speaks_openmetrics(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(OAUTH2_METRICS_PATH="/internal/prometheus/")
    assert h.client.get("/metrics").status_code == 404
    response = h.client.get(
        "/internal/prometheus",
        headers={"Accept": "application/openmetrics-text; version=1.0.0"},
    )
    assert response.status_code == 200
    assert response.content_type.startswith("application/openmetrics-text")
    assert "# TYPE oauth2_token_requests counter" in response.text
    assert response.text.endswith("# EOF\n")


def _app_with_metrics() -> None:
    build_app("sqlite://", FakeClock(), METRICS)


def test_metrics_without_prometheus_client_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(ConfigurationError) as raised:
        _app_with_metrics()
    message = str(raised.value)
    assert "OAUTH2_METRICS_PATH" in message
    assert "flask-refreshgrant[metrics]" in message
    # Metrics off, the extension needs nothing of it.
    app, *_ = build_app("sqlite://", FakeClock())
    assert app.test_client().get("/oauth2/token").status_code == 405


def test_the_package_imports_without_prometheus_client() -> None:
    code = (
        "import sys; sys.modules['prometheus_client'] = None\n"
        "import flask_refreshgrant, flask_refreshgrant.extension\n"
        "import flask_refreshgrant.metrics\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout) == (0, "ok\n"), result.stderr


@pytest.mark.skipif(
    "PROMETHEUS_MULTIPROC_DIR" in os.environ,
    reason="the suite itself runs in multiprocess mode",
)
def test_multiprocess_mode_needs_its_directory_from_the_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``PROMETHEUS_MULTIPROC_DIR`` must name a directory, and be set before
    prometheus_client is imported (this process imported it without)."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    with pytest.raises(ConfigurationError, match="not a directory"):
        _app_with_metrics()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    with pytest.raises(ConfigurationError, match="after prometheus_client"):
        _app_with_metrics()
