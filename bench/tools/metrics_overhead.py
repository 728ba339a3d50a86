"""What Prometheus metrics cost a rotating refresh, in-process.

``python bench/tools/metrics_overhead.py [--rounds N] [--block M]`` with the
project's environment (``DATABASE_URL``, ``EXAMPLE_INSTANCE_PATH``; and
``PROMETHEUS_MULTIPROC_DIR`` to measure multiprocess mode, where every count
is written to a memory-mapped file) builds the example app twice in one
process — ``OAUTH2_METRICS_PATH`` unset and ``/metrics`` — on one database,
then refreshes through Flask's test client (no HTTP) in blocks of ``M``
rotating refreshes, alternating between the two apps for ``N`` rounds
(off-on, then on-off, so neither always goes first). It prints one JSON
object: the median ms per refresh of each, the cost in % (on/off - 1) from
the medians and as the median of the per-round ratios, the same for the
process's CPU time (steadier on a shared machine: the database's work is
the same either way), the added work timed alone (the request hooks and
the rotation signal, on minus off, CPU µs per request, the least of the
rounds: what the end-to-end figures cannot resolve on a busy machine), and the counts the metrics app
reported (a check that it counted every refresh).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.append(str(BENCH_DIR.parent))

from apps.seed import seed_project  # noqa: E402
from core.common import TOKEN_PATH, basic_auth  # noqa: E402


def refresher(app: Any, auth: str, token: str) -> Callable[[], None]:
    """One rotating refresh per call, following the chain from ``token``."""
    client = app.test_client()
    headers = {"Authorization": auth}

    def refresh() -> None:
        nonlocal token
        response = client.post(
            TOKEN_PATH,
            data={"grant_type": "refresh_token", "refresh_token": token},
            headers=headers,
            base_url="http://127.0.0.1",
        )
        if response.status_code != 200:
            raise RuntimeError(f"refresh failed: {response.status_code}")
        token = json.loads(response.data)["refresh_token"]

    return refresh


def ms_per_refresh(refresh: Callable[[], None], n: int) -> tuple[float, float]:
    """Wall-clock and this process's CPU time, in ms per refresh."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        refresh()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall / n * 1000, cpu / n * 1000


def hooks_us(app: Any, n: int) -> float:
    """CPU µs per request of what metrics add around a rotating refresh,
    timed alone: the app's request hooks (``preprocess_request`` and
    ``process_response``, as Flask runs them for the token endpoint) and the
    ``refresh_token_rotated`` signal. Metrics on minus metrics off is their
    cost, without the database's noise."""
    from flask import request

    from flask_refreshgrant import signals

    form = {"grant_type": "refresh_token", "refresh_token": "x"}
    with app.test_request_context(TOKEN_PATH, method="POST", data=form):
        assert request.form["grant_type"] == "refresh_token"  # parsed, as by the view
        response = app.response_class("{}", status=200)
        gc.collect()
        started = time.process_time()
        for _ in range(n):
            app.preprocess_request()
            app.process_response(response)
            signals.emit(
                signals.refresh_token_rotated,
                client_id="c",
                user_id="u",
                family_id="f",
                parent_id=1,
            )
        return (time.process_time() - started) / n * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--block", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--hook-calls", type=int, default=5000)
    args = parser.parse_args(argv)

    from example_app import create_app

    seeded = seed_project(2, 0)
    auth = basic_auth(seeded["client_id"], seeded["client_secret"])
    off_app = create_app({"OAUTH2_METRICS_PATH": None})
    on_app = create_app({"OAUTH2_METRICS_PATH": "/metrics"})
    off = refresher(off_app, auth, seeded["tokens"][0])
    on = refresher(on_app, auth, seeded["tokens"][1])
    for _ in range(args.warmup):
        off()
        on()

    wall: dict[str, list[float]] = {"off": [], "on": []}
    cpu: dict[str, list[float]] = {"off": [], "on": []}
    ratios: list[float] = []
    for round_ in range(args.rounds):
        order = [("off", off), ("on", on)]
        if round_ % 2:
            order.reverse()
        this_round: dict[str, float] = {}
        for name, refresh in order:
            this_round[name], cpu_ms = ms_per_refresh(refresh, args.block)
            wall[name].append(this_round[name])
            cpu[name].append(cpu_ms)
        ratios.append(this_round["on"] / this_round["off"])

    scraped = on_app.test_client().get("/metrics").get_data(as_text=True)
    counted = [
        line
        for line in scraped.splitlines()
        if line.startswith(
            (
                'oauth2_token_requests_total{grant_type="refresh_token"',
                "oauth2_refresh_tokens_rotated_total",
            )
        )
    ]
    hooks: dict[str, list[float]] = {"off": [], "on": []}
    for round_ in range(args.rounds):
        pair = [("off", off_app), ("on", on_app)]
        for name, app in pair if round_ % 2 == 0 else pair[::-1]:
            hooks[name].append(hooks_us(app, args.hook_calls))
    # The least of the rounds: other processes can only add time.
    hooks_off = min(hooks["off"])
    hooks_on = min(hooks["on"])

    median_off = statistics.median(wall["off"])
    median_on = statistics.median(wall["on"])
    cpu_off = statistics.median(cpu["off"])
    cpu_on = statistics.median(cpu["on"])
    result = {
        "rounds": args.rounds,
        "block": args.block,
        "refreshes_each": args.warmup + args.rounds * args.block,
        "ms_per_refresh_off": median_off,
        "ms_per_refresh_on": median_on,
        "cost_pct_of_medians": (median_on / median_off - 1) * 100,
        "cost_pct_median_of_rounds": (statistics.median(ratios) - 1) * 100,
        # The app process's CPU alone (the database's is the same either
        # way): steadier than wall-clock time on a shared machine.
        "cpu_ms_per_refresh_off": cpu_off,
        "cpu_ms_per_refresh_on": cpu_on,
        "cpu_us_added_per_refresh": (cpu_on - cpu_off) * 1000,
        "cpu_cost_pct_median_of_rounds": (
            statistics.median(a / b for a, b in zip(cpu["on"], cpu["off"], strict=True))
            - 1
        )
        * 100,
        "cpu_us_added_pct_of_wall_off": (cpu_on - cpu_off) / median_off * 100,
        # The added work timed alone (CPU, least of the rounds), and as a
        # share of a refresh: of its wall time, and of the app's CPU.
        "hooks_us_off": hooks_off,
        "hooks_us_on": hooks_on,
        "hooks_us_added": hooks_on - hooks_off,
        "hooks_added_pct_of_refresh": (hooks_on - hooks_off)
        / (median_off * 1000)
        * 100,
        "hooks_added_pct_of_refresh_cpu": (hooks_on - hooks_off)
        / (cpu_off * 1000)
        * 100,
        "hooks_us_rounds_off": hooks["off"],
        "hooks_us_rounds_on": hooks["on"],
        "round_ratios": ratios,
        "ms_off": wall["off"],
        "ms_on": wall["on"],
        "cpu_ms_off": cpu["off"],
        "cpu_ms_on": cpu["on"],
        "counted": counted,
    }
    sys.stdout.write("\n" + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
