"""What every section shares: set-up of servers, driving the load, the report."""

from __future__ import annotations

import json
import math
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common import TOKEN_PATH
from measure import cpu_seconds, machine_jiffies
from servers import BENCH_DIR, Postgres, Server, run_python
from settings import Settings


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
    ) -> dict[str, Any]:
        """Drive ``targets`` (connections spread round-robin) once."""
        s = self.settings
        n = connections or s.connections
        first = targets[0]
        first.add_chains(n)
        assignment = [i * len(targets) // n for i in range(n)]
        spec = {
            "mode": mode,
            "targets": [{"host": "127.0.0.1", "port": t.port} for t in targets],
            "path": TOKEN_PATH,
            "authorization": first.authorization,
            "scope": None,
            "connections": [
                {"target": assignment[i], "tokens": first.chains.lists[i]}
                for i in range(n)
            ],
            "warmup": s.warmup if mode == "duration" else 0.0,
            "duration": duration if duration is not None else s.duration,
            "requests": max(1, requests // n) if mode == "count" else 0,
        }
        self.counter += 1
        path = first.home / f"spec-{self.counter}.json"
        path.write_text(json.dumps(spec))
        workers = [pid for t in targets for pid in t.workers()]
        backends = self.postgres.backends() if self.postgres else []
        cpu_before = sum(cpu_seconds(pid) for pid in workers)
        db_before = sum(cpu_seconds(pid) for pid in backends)
        busy_before, total_before = machine_jiffies()
        budget = (
            spec["warmup"] + spec["duration"] + 120
            if mode == "duration"
            else 120 + requests * 0.02
        )
        result = run_python(
            [str(BENCH_DIR / "loadgen.py"), str(path)],
            dict(os.environ),
            timeout=budget,
            what=f"load on {first.label}",
        )
        busy_after, total_after = machine_jiffies()
        cpu = sum(cpu_seconds(pid) for pid in workers) - cpu_before
        db_cpu = sum(cpu_seconds(pid) for pid in backends) - db_before
        sent = result["sent"] or 1
        # Per request of the run, warm-up included.
        result["server_cpu_ms"] = cpu / sent * 1000
        result["db_cpu_ms"] = (
            db_cpu / sent * 1000 if first.db_kind != "sqlite" else math.nan
        )
        # What the rest of the machine used meanwhile (other processes: noise),
        # in % of all CPUs: busy time minus workers, PostgreSQL and client.
        tick = os.sysconf("SC_CLK_TCK")
        ours = cpu + db_cpu + result["client_cpu_ms"] * sent / 1000
        busy = (busy_after - busy_before) / tick
        capacity = (total_after - total_before) / tick
        result["other_cpu_pct"] = (
            max(0.0, busy - ours) / capacity * 100 if capacity else math.nan
        )
        first.chains.lists = [c["tokens"] for c in result.pop("chains")]
        if result["errors"]:
            self.problems.append(
                f"{first.label} rotation {'on' if first.rotate else 'off'} "
                f"({first.db_kind}): {result['errors']} errors {result['error_kinds']}"
            )
        return result

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
            [str(BENCH_DIR / "loadgen.py"), str(path)],
            dict(os.environ),
            timeout=120,
            what="race",
        )

    # -- the report ----------------------------------------------------------

    def emit(self, text: str) -> None:
        self.report.append(text)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
