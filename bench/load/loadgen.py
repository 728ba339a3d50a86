"""The load generator: one process per connection, each with its own token chain.

``python bench/load/loadgen.py SPEC.json`` prints one JSON result. The spec::

    {"mode": "duration" | "count" | "race",
     "kind": "refresh" | "resource",          # default "refresh"
     "targets": [{"host": "127.0.0.1", "port": 8000}, ...],
     "path": "/oauth2/token", "authorization": "Basic ...",
     "scope": null,
     "connections": [{"target": 0, "tokens": ["rt", "spare", ...]}, ...],
     "warmup": 2.0, "duration": 10.0,         # mode "duration"
     "requests": 1000,                        # mode "count": per connection
     "race": {"token": "rt", "per_target": 10}}  # mode "race"

Each connection is a process with an ``http.client`` connection (keep-alive
asked for; gunicorn's sync workers close after every response and
``http.client`` reconnects). It presents its current refresh token and takes
the one each ``200`` returns (rotation), or keeps its own when the response
carries none. A refused refresh breaks the chain: the connection moves to a
spare token, or stops. Kind ``resource``: each connection GETs ``path`` with
its token as ``Authorization: Bearer``, no chain.

The bench uses this generator only when wrk is missing (or ``--loadgen
python``): see ``wrkgen.py``. Race mode is always this one.

Duration mode counts what completes inside ``[warmup, warmup + duration]``
of each process's clock; count mode sends ``requests`` per connection. Race
mode opens ``per_target`` connections to every target from threads, releases
them together with the same token and reports each status.
"""

from __future__ import annotations

import http.client
import json
import math
import multiprocessing as mp
import resource
import sys
import threading
import time
from array import array
from collections import Counter
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from typing import Any
from urllib.parse import urlencode

TIMEOUT = 30.0


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted list (``nan`` if empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _headers(authorization: str) -> dict[str, str]:
    return {
        "Authorization": authorization,
        "Content-Type": "application/x-www-form-urlencoded",
        "Connection": "keep-alive",
    }


def _body(token: str, scope: str | None) -> str:
    data = {"grant_type": "refresh_token", "refresh_token": token}
    if scope:
        data["scope"] = scope
    return urlencode(data)


def _error_key(status: int, payload: bytes) -> str:
    try:
        error = json.loads(payload).get("error", "")
    except (ValueError, AttributeError):
        error = "non-json"
    return f"{status} {error}".strip()


def _connection_worker(
    spec: dict[str, Any], index: int, go: Event, out: Connection
) -> None:
    conn_spec = spec["connections"][index]
    target = spec["targets"][conn_spec["target"]]
    tokens: list[str] = list(conn_spec["tokens"])
    token = tokens.pop(0)
    resource = spec.get("kind") == "resource"
    headers = (
        {"Authorization": f"Bearer {token}", "Connection": "keep-alive"}
        if resource
        else _headers(spec["authorization"])
    )
    path = spec["path"]
    scope = spec.get("scope")
    mode = spec["mode"]
    warmup = float(spec.get("warmup", 0.0))
    duration = float(spec.get("duration", 0.0))
    limit = int(spec.get("requests", 0))
    conn = http.client.HTTPConnection(target["host"], target["port"], timeout=TIMEOUT)
    latencies = array("d")
    errors: Counter[str] = Counter()
    ok = sent = 0
    broken = False
    go.wait()
    start = time.perf_counter()
    window_start = start + warmup
    window_end = window_start + duration
    while True:
        if mode == "duration":
            if time.perf_counter() >= window_end:
                break
        elif sent >= limit:
            break
        sent += 1
        t0 = time.perf_counter()
        try:
            if resource:
                conn.request("GET", path, headers=headers)
            else:
                conn.request("POST", path, _body(token, scope), headers)
            response = conn.getresponse()
            payload = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as error:
            conn.close()
            errors[f"exception {type(error).__name__}"] += 1
            time.sleep(0.01)
            continue
        t1 = time.perf_counter()
        counted = mode != "duration" or window_start <= t1 <= window_end
        if status == 200:
            if not resource:
                token = json.loads(payload).get("refresh_token") or token
            if counted:
                ok += 1
                latencies.append(t1 - t0)
            continue
        if counted:
            errors[_error_key(status, payload)] += 1
        if status in (400, 401) and not resource:  # the chain is broken: a spare
            if not tokens:
                broken = True
                break
            token = tokens.pop(0)
    conn.close()
    out.send(
        {
            "ok": ok,
            "sent": sent,
            "errors": dict(errors),
            "latencies": latencies.tolist(),
            "token": None if broken else token,
            "spare": tokens,
            "broken": broken,
        }
    )
    out.close()


def run_load(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the connections of ``spec`` (mode duration or count) and sum them up."""
    ctx = mp.get_context("fork")
    go = ctx.Event()
    workers = []
    for index in range(len(spec["connections"])):
        receiver, sender = ctx.Pipe(duplex=False)
        process = ctx.Process(
            target=_connection_worker, args=(spec, index, go, sender), daemon=True
        )
        process.start()
        sender.close()
        workers.append((process, receiver))
    started = time.perf_counter()
    go.set()
    results = []
    for process, receiver in workers:
        try:
            results.append(receiver.recv())
        except EOFError:
            results.append(
                {
                    "ok": 0,
                    "sent": 0,
                    "errors": {"worker died": 1},
                    "latencies": [],
                    "token": None,
                    "spare": [],
                    "broken": True,
                }
            )
        process.join(timeout=TIMEOUT)
    elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = usage.ru_utime + usage.ru_stime
    latencies = sorted(x for r in results for x in r["latencies"])
    errors: Counter[str] = Counter()
    for r in results:
        errors.update(r["errors"])
    ok = sum(r["ok"] for r in results)
    window = float(spec["duration"]) if spec["mode"] == "duration" else elapsed
    return {
        "ok": ok,
        "sent": sum(r["sent"] for r in results),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "seconds": window,
        "rps": ok / window if window > 0 else math.nan,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "mean_ms": (sum(latencies) / len(latencies) * 1000) if latencies else math.nan,
        # CPU of the connection processes per request sent (warm-up included).
        "client_cpu_ms": client_cpu / max(1, sum(r["sent"] for r in results)) * 1000,
        "chains": [
            {"tokens": ([r["token"]] if r["token"] else []) + r["spare"]}
            for r in results
        ],
        "broken_chains": sum(1 for r in results if r["broken"]),
    }


def run_race(spec: dict[str, Any]) -> dict[str, Any]:
    """``per_target`` requests to every target, all with the same token, released
    together once every connection is open."""
    race = spec["race"]
    headers = _headers(spec["authorization"])
    body = _body(race["token"], spec.get("scope"))
    conns = [
        http.client.HTTPConnection(t["host"], t["port"], timeout=TIMEOUT)
        for t in spec["targets"]
        for _ in range(int(race["per_target"]))
    ]
    for conn in conns:
        conn.connect()
    barrier = threading.Barrier(len(conns))
    outcomes: list[str] = ["not sent"] * len(conns)

    def send(i: int) -> None:
        conn = conns[i]
        try:
            barrier.wait(timeout=TIMEOUT)
            conn.request("POST", spec["path"], body, headers)
            response = conn.getresponse()
            payload = response.read()
            outcomes[i] = (
                "200"
                if response.status == 200
                else _error_key(response.status, payload)
            )
        except Exception as error:  # reported, never raised
            outcomes[i] = f"exception {type(error).__name__}"
        finally:
            conn.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(conns))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    per_target = int(race["per_target"])
    return {
        "outcomes": dict(Counter(outcomes)),
        "ok": outcomes.count("200"),
        "ok_by_target": [
            outcomes[i * per_target : (i + 1) * per_target].count("200")
            for i in range(len(spec["targets"]))
        ],
    }


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python bench/load/loadgen.py SPEC.json")
    with open(args[0]) as file:
        spec = json.load(file)
    result = run_race(spec) if spec["mode"] == "race" else run_load(spec)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
