"""What every section shares: set-up of servers, driving the load, the report."""

from __future__ import annotations

import json
import math
import os
import secrets
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from load import wrkgen

from core.common import TOKEN_PATH
from core.measure import cpu_seconds, cpu_split, machine_jiffies
from core.report import log
from core.servers import BENCH_DIR, Postgres, Server, run_python
from core.settings import GENERATOR_CPU_FLAG_PCT, Settings


class Bench:
    """One run: its settings, work directory, PostgreSQL, results and report."""

    def __init__(self, settings: Settings, workdir: Path) -> None:
        self.settings = settings
        self.workdir = workdir
        self.postgres: Postgres | None = None
        self.secret = secrets.token_urlsafe(32)
        self.counter = 0
        self.results: dict[str, Any] = {}
        self.report: list[str] = []
        self.problems: list[str] = []
        #: Runs whose load generator took more than the flag's share of CPU.
        self.flagged: list[str] = []

    # -- set-up --------------------------------------------------------------

    def database(self, db_kind: str, name: str) -> str:
        self.counter += 1
        name = f"{name}_{self.counter}"
        if db_kind == "sqlite":
            path = self.workdir / "sqlite" / f"{name}.db"
            path.parent.mkdir(parents=True, exist_ok=True)
            return f"sqlite:///{path}"
        assert self.postgres is not None
        return self.postgres.new_database(f"bench_{name}")

    def server(
        self,
        kind: str,
        rotate: bool,
        db_kind: str,
        name: str,
        db_url: str | None = None,
    ) -> Server:
        url = db_url or self.database(db_kind, name)
        home = self.workdir / "servers" / f"{name}_{self.counter}"
        home.mkdir(parents=True, exist_ok=True)
        return Server(
            kind=kind,
            rotate=rotate,
            db_kind=db_kind,
            db_url=url,
            home=home,
            instance=home / "instance",
            client_secret=self.secret,
            pg_pre_ping=self.settings.pg_pre_ping,
        )

    def start_all(self, servers: Sequence[Server]) -> None:
        for server in servers:
            server.add_chains(self.settings.connections)
        for server in servers:
            server.start()
        for server in servers:
            self.load([server], mode="count", requests=10)  # both workers warm

    # -- driving ---------------------------------------------------------------

    def load(
        self,
        targets: Sequence[Server],
        *,
        mode: str = "duration",
        duration: float | None = None,
        requests: int = 0,
        connections: int | None = None,
        kind: str = "refresh",
        path: str = TOKEN_PATH,
    ) -> dict[str, Any]:
        """Drive ``targets`` (connections spread round-robin) once.

        ``kind`` ``refresh``: POST refresh grants, each connection chaining
        its refresh tokens; ``resource``: GET ``path`` with each connection's
        bearer access token; ``mcp``: POST an MCP ``tools/call`` to ``path``
        with each connection's bearer token and MCP session (wrk only). With
        wrk unless ``--loadgen python`` (or no wrk).
        """
        s = self.settings
        n = connections or s.connections
        first = targets[0]
        assignment = [i * len(targets) // n for i in range(n)]
        if kind == "refresh":
            first.add_chains(n)
            tokens = [first.chains.lists[i] for i in range(n)]
            authorization: str | None = first.authorization
        else:  # resource, mcp: the access token (and the MCP session)
            first.add_access_tokens(n)
            tokens = [
                [first.access_tokens[i], *first.sessions[i : i + 1]] for i in range(n)
            ]
            authorization = None
        spec = {
            "mode": mode,
            "kind": kind,
            "targets": [{"host": "127.0.0.1", "port": t.port} for t in targets],
            "path": path,
            "authorization": authorization,
            "scope": None,
            "connections": [
                {"target": assignment[i], "tokens": tokens[i]} for i in range(n)
            ],
            "warmup": s.warmup if mode == "duration" else 0.0,
            "duration": duration if duration is not None else s.duration,
            "requests": max(1, requests // n) if mode == "count" else 0,
        }
        self.counter += 1
        workers = [pid for t in targets for pid in t.workers()]
        backends = self.postgres.backends() if self.postgres else []
        split_before = [cpu_split(pid) for pid in workers]
        db_before = sum(cpu_seconds(pid) for pid in backends)
        busy_before, total_before = machine_jiffies()
        budget = (
            spec["warmup"] + spec["duration"] + 120
            if mode == "duration"
            else 120 + requests * 0.02
        )
        if s.wrk:
            result = wrkgen.run(spec, first.home / "wrk", s.wrk, budget)
            generator_cpu = result["client_cpu_s"]
        else:
            path_ = first.home / f"spec-{self.counter}.json"
            path_.write_text(json.dumps(spec))
            result = run_python(
                [str(BENCH_DIR / "load" / "loadgen.py"), str(path_)],
                dict(os.environ),
                timeout=budget,
                what=f"load on {first.label}",
            )
            result["generator"] = "python"
            generator_cpu = result["client_cpu_ms"] * result["sent"] / 1000
        busy_after, total_after = machine_jiffies()
        split_after = [cpu_split(pid) for pid in workers]
        user = sum(a[0] - b[0] for a, b in zip(split_after, split_before, strict=True))
        system = sum(
            a[1] - b[1] for a, b in zip(split_after, split_before, strict=True)
        )
        cpu = user + system
        db_cpu = sum(cpu_seconds(pid) for pid in backends) - db_before
        sent = result["sent"] or 1
        # Per request of the run, warm-up included.
        result["server_cpu_ms"] = cpu / sent * 1000
        result["server_user_ms"] = user / sent * 1000
        result["server_sys_ms"] = system / sent * 1000
        result["db_cpu_ms"] = (
            db_cpu / sent * 1000 if first.db_kind != "sqlite" else math.nan
        )
        # Shares of the machine (all CPUs) during the run: the load
        # generator's, and the rest of the machine's (other processes: noise)
        # — busy time minus workers, PostgreSQL and the generator.
        tick = os.sysconf("SC_CLK_TCK")
        busy = (busy_after - busy_before) / tick
        capacity = (total_after - total_before) / tick
        ours = cpu + db_cpu + generator_cpu
        result["gen_cpu_pct"] = generator_cpu / capacity * 100 if capacity else math.nan
        result["other_cpu_pct"] = (
            max(0.0, busy - ours) / capacity * 100 if capacity else math.nan
        )
        if result["gen_cpu_pct"] > GENERATOR_CPU_FLAG_PCT:
            self.flagged.append(
                f"{first.label} ({first.db_kind}, {kind}): the load generator "
                f"took {result['gen_cpu_pct']:.0f} % of the CPU "
                f"(> {GENERATOR_CPU_FLAG_PCT:g} %)"
            )
        if kind == "refresh":
            first.chains.lists = [c["tokens"] for c in result.pop("chains")]
        else:
            result.pop("chains", None)
        if result["errors"]:
            what = (
                f"rotation {'on' if first.rotate else 'off'}"
                if kind == "refresh"
                else f"{'POST' if kind == 'mcp' else 'GET'} {path}"
            )
            self.problems.append(
                f"{first.label} {what} ({first.db_kind}): {result['errors']} "
                f"errors {result['error_kinds']}"
            )
        return result

    def interleave(
        self, loads: Sequence[tuple[str, Server, str, str]], what: str
    ) -> dict[str, list[dict[str, Any]]]:
        """``--runs`` rounds, each driving every load — (label, server,
        ``kind``, ``path``) of :meth:`load` — once, back to back, so that a
        change in the machine's load hits all of them; each round starts one
        load further along. Every result is logged."""
        s = self.settings
        runs: dict[str, list[dict[str, Any]]] = {load[0]: [] for load in loads}
        for run in range(s.runs):
            shift = run % len(loads)
            for label, server, kind, path in [*loads[shift:], *loads[:shift]]:
                result = self.load([server], kind=kind, path=path)
                runs[label].append(result)
                log(
                    f"{what} {label:24s} run {run + 1}/{s.runs}: "
                    f"{result['rps']:7.1f}/s p50 {result['p50_ms']:.2f} ms "
                    f"p99 {result['p99_ms']:.2f} ms errors {result['errors']} "
                    f"generator {result['gen_cpu_pct']:.1f} % CPU, other load "
                    f"{result['other_cpu_pct']:.0f} %"
                )
        return runs

    def stop(self, servers: Iterable[Server], what: str) -> None:
        """Stop ``servers``; a traceback in one's log is a problem."""
        for server in servers:
            if server.tracebacks():
                self.problems.append(
                    f"{server.label} ({what}): tracebacks in {server.logs}"
                )
            server.stop()

    def race(self, targets: Sequence[Server], token: str, size: int) -> dict[str, Any]:
        spec = {
            "mode": "race",
            "targets": [{"host": "127.0.0.1", "port": t.port} for t in targets],
            "path": TOKEN_PATH,
            "authorization": targets[0].authorization,
            "scope": None,
            "connections": [],
            "race": {"token": token, "per_target": size // len(targets)},
        }
        self.counter += 1
        path = targets[0].home / f"race-{self.counter}.json"
        path.write_text(json.dumps(spec))
        return run_python(
            [str(BENCH_DIR / "load" / "loadgen.py"), str(path)],
            dict(os.environ),
            timeout=120,
            what="race",
        )

    # -- the report ----------------------------------------------------------

    def emit(self, text: str) -> None:
        self.report.append(text)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
