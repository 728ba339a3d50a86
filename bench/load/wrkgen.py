"""Drive load with wrk (compiled, event-driven) and ``wrk_chain.lua``.

:func:`run` takes the same spec as ``loadgen.py`` (duration or count mode;
``kind`` ``refresh`` or ``resource``) and returns the same result, plus the
generator's CPU time. One wrk process per target, all at once, each with one
thread per connection (``-t N -c N``): a wrk thread has its own Lua state,
so with one connection per thread the Lua globals are that connection's
refresh-token chain (see ``wrk_chain.lua``).

Each thread stops itself after the response that ends its window (or its
count), and appends its index to a file; once every thread of a process has
done so the process is interrupted (``SIGINT``, on which wrk stops sleeping
out ``-d``, joins its threads and calls the script's ``done``, which writes
the result). ``-d`` is only an upper bound. The process is reaped with
``wait4``, whose resource usage is the generator's CPU time.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parent / "wrk_chain.lua"
#: A request slower than this is a wrk "timeout" (counted; never cut).
REQUEST_TIMEOUT = "60s"


def find_wrk() -> str | None:
    return shutil.which("wrk")


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted list (``nan`` if empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class _Process:
    """One wrk process: its target, connections and files."""

    target: dict[str, Any]
    indexes: list[int]
    spec: Path
    out: Path
    finished: Path
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    rusage_cpu: float = 0.0
    returncode: int | None = None
    interrupted: float = 0.0

    def finished_count(self) -> int:
        try:
            return len(self.finished.read_text().split())
        except OSError:
            return 0


def _write_spec(proc: _Process, spec: dict[str, Any]) -> None:
    lines = [
        f"kind {spec.get('kind', 'refresh')}",
        f"mode {spec['mode']}",
        f"warmup {float(spec.get('warmup', 0.0))!r}",
        f"duration {float(spec.get('duration', 0.0))!r}",
        f"requests {int(spec.get('requests', 0))}",
        f"path {spec['path']}",
        f"authorization {spec.get('authorization') or ''}",
        f"out {proc.out}",
        f"finished {proc.finished}",
    ]
    for i in proc.indexes:
        tokens = spec["connections"][i]["tokens"]
        for token in tokens:
            if not token or any(c.isspace() for c in token):
                raise ValueError(f"token unfit for the wrk spec: {token!r}")
        lines.append("conn " + " ".join(tokens))
    proc.spec.write_text("\n".join(lines) + "\n")


def _reap(proc: _Process, block: bool) -> bool:
    """Reap the process if it has exited; True once it has."""
    assert proc.popen is not None
    if proc.returncode is not None:
        return True
    pid, status, usage = os.wait4(proc.popen.pid, 0 if block else os.WNOHANG)
    if pid == 0:
        return False
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.popen.returncode = proc.returncode  # reaped here, not by Popen
    proc.rusage_cpu = usage.ru_utime + usage.ru_stime
    return True


def run(spec: dict[str, Any], workdir: Path, wrk: str, budget: float) -> dict[str, Any]:
    """Run ``spec`` (``loadgen.py``'s format) with one wrk per target."""
    mode = spec["mode"]
    n = len(spec["connections"])
    workdir.mkdir(parents=True, exist_ok=True)
    stamp = f"{os.getpid()}-{time.monotonic_ns()}"
    procs: list[_Process] = []
    for t, target in enumerate(spec["targets"]):
        indexes = [i for i in range(n) if spec["connections"][i]["target"] == t]
        if not indexes:
            continue
        base = workdir / f"wrk-{stamp}-{t}"
        proc = _Process(
            target=target,
            indexes=indexes,
            spec=base.with_suffix(".spec"),
            out=base.with_suffix(".json"),
            finished=base.with_suffix(".finished"),
            log=base.with_suffix(".log"),
        )
        _write_spec(proc, spec)
        procs.append(proc)
    # -d bounds the run; the threads normally end it well before.
    if mode == "duration":
        bound = float(spec["warmup"]) + float(spec["duration"]) + 30
    else:
        bound = budget
    seconds = max(1, math.ceil(bound))
    started = time.monotonic()
    for proc in procs:
        url = f"http://{proc.target['host']}:{proc.target['port']}{spec['path']}"
        c = str(len(proc.indexes))
        command = [wrk, "-t", c, "-c", c, "-d", f"{seconds}s"]
        command += ["--timeout", REQUEST_TIMEOUT, "-s", str(SCRIPT), url]
        with proc.log.open("wb") as log:
            proc.popen = subprocess.Popen(
                command,
                env={**os.environ, "BENCH_WRK_SPEC": str(proc.spec)},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
    try:
        deadline = started + seconds + 30
        while not all(_reap(p, block=False) for p in procs):
            now = time.monotonic()
            if now > deadline:
                raise RuntimeError(f"wrk did not end within {seconds + 30} s")
            for proc in procs:
                # wrk ignores SIGINT until its threads run: repeat it.
                if (
                    proc.returncode is None
                    and proc.finished_count() >= len(proc.indexes)
                    and now - proc.interrupted > 0.2
                ):
                    assert proc.popen is not None
                    with contextlib.suppress(ProcessLookupError):
                        proc.popen.send_signal(signal.SIGINT)
                    proc.interrupted = now
            time.sleep(0.02)
    finally:
        for proc in procs:
            if proc.popen is not None and proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.popen.kill()
                _reap(proc, block=True)
    elapsed = time.monotonic() - started
    return _merge(spec, procs, elapsed)


def _merge(
    spec: dict[str, Any], procs: list[_Process], elapsed: float
) -> dict[str, Any]:
    n = len(spec["connections"])
    per_conn: list[dict[str, Any]] = [{} for _ in range(n)]
    socket_errors: dict[str, int] = {}
    for proc in procs:
        try:
            data = json.loads(proc.out.read_text())
        except (OSError, ValueError) as error:
            log = proc.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(
                f"wrk (exit {proc.returncode}) wrote no result: {error}\n{log}"
            ) from error
        for i, conn in zip(proc.indexes, data["connections"], strict=True):
            per_conn[i] = conn
        raw = data.get("socket_errors") or {}
        for key in ("connect", "read", "write", "timeout"):
            if raw.get(key):
                socket_errors[key] = socket_errors.get(key, 0) + int(raw[key])
    errors: dict[str, int] = {}
    for conn in per_conn:
        kinds = conn.get("errors") or {}
        for key, count in kinds.items() if isinstance(kinds, dict) else []:
            errors[key] = errors.get(key, 0) + int(count)
    for key, count in socket_errors.items():
        errors[f"socket {key}"] = count
    latencies = sorted(x for c in per_conn for x in c.get("latencies_ms") or [])
    ok = sum(int(c.get("ok", 0)) for c in per_conn)
    sent = sum(int(c.get("sent", 0)) for c in per_conn)
    window = float(spec["duration"]) if spec["mode"] == "duration" else elapsed
    chains = []
    for conn in per_conn:
        spare = list(conn.get("spare") or [])
        token = conn.get("token")
        # A refresh still in flight when wrk ended may have used the token.
        keep = token and not conn.get("broken") and not conn.get("inflight")
        chains.append({"tokens": ([token] if keep else []) + spare})
    gen_cpu = sum(p.rusage_cpu for p in procs)
    return {
        "generator": "wrk",
        "ok": ok,
        "sent": sent,
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "seconds": window,
        "rps": ok / window if window > 0 else math.nan,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "mean_ms": sum(latencies) / len(latencies) if latencies else math.nan,
        "client_cpu_ms": gen_cpu / max(1, sent) * 1000,
        "client_cpu_s": gen_cpu,
        "wall_s": elapsed,
        "chains": chains,
        "broken_chains": sum(1 for c in per_conn if c.get("broken")),
        "unfinished": sum(1 for c in per_conn if not c.get("finished")),
    }
