"""``bench/soak``: mixed traffic against the example app under gunicorn while
PostgreSQL restarts and workers are killed, then ``flask oauth2 audit``.

Bounded (``--duration``, default 10 minutes), loopback only, and everything
it starts — its own PostgreSQL on ``--pg-port``, gunicorn, wrk — is stopped
when it ends, however it ends. See ``bench/README.md`` (*Soak*).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.append(str(BENCH_DIR.parent))  # the example app

from core.servers import PYTHON, REPO, RUNNING, Postgres, Server  # noqa: E402

from soakrun import report, wrkload  # noqa: E402
from soakrun.driver import Clients, run_drivers  # noqa: E402

REDIRECT_URI = "http://127.0.0.1/soak/callback"
#: The rotating client's grace period: a retry after a lost response (a
#: killed worker) gets the identical response.
GRACE_PERIOD = 30


def parse_duration(text: str) -> int:
    """``600``, ``600s``, ``10m``."""
    match = re.fullmatch(r"(\d+)([sm]?)", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r}")
    value = int(match.group(1))
    return value * 60 if match.group(2) == "m" else value


def flask_cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    """``flask --app example_app ARGS`` in the server's environment."""
    return subprocess.run(
        [PYTHON, "-m", "flask", "--app", "example_app", *args],
        cwd=REPO,
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def create_client(server: Server, name: str, *options: str) -> dict[str, Any]:
    done = flask_cli(
        server,
        "oauth2",
        "create-client",
        "--name",
        name,
        "--scope",
        "PRODUCTION SANDBOX",
        "--redirect-uri",
        REDIRECT_URI,
        "--json",
        *options,
    )
    if done.returncode != 0:
        raise RuntimeError(f"create-client {name}: {done.stderr}")
    created: dict[str, Any] = json.loads(done.stdout)
    return created


def register_clients(server: Server) -> Clients:
    confidential = (
        "--grant-type",
        "password",
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "refresh_token",
    )
    rotate = create_client(
        server,
        "soak rotate",
        *confidential,
        "--renew",
        "--grace-period",
        str(GRACE_PERIOD),
    )
    renew_off = create_client(server, "soak renew off", *confidential, "--no-renew")
    public = create_client(
        server,
        "soak public dpop",
        "--public",
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "refresh_token",
    )
    return Clients(
        rotate=(rotate["client_id"], rotate["client_secret"]),
        renew_off=(renew_off["client_id"], renew_off["client_secret"]),
        public=public["client_id"],
        redirect_uri=REDIRECT_URI,
    )


class Faults(threading.Thread):
    """Kills a gunicorn worker every ``kill_every`` seconds (from half of it
    on) and restarts PostgreSQL ``restarts`` times, evenly spread; records
    each fault's window (its start to its end plus ``settle`` seconds)."""

    def __init__(
        self,
        server: Server,
        postgres: Postgres | None,
        *,
        started: float,
        duration: int,
        kill_every: int,
        restarts: int,
        outage: float,
        settle: float,
    ) -> None:
        super().__init__(name="soak-faults", daemon=True)
        self.server = server
        self.postgres = postgres
        self.settle = settle
        self.outage = outage
        self.windows: list[report.Window] = []
        self.log: list[dict[str, Any]] = []
        self.stop_event = threading.Event()
        plan: list[tuple[float, str]] = [
            (started + at, "worker_kill")
            for at in range(kill_every // 2, duration, kill_every)
        ]
        if postgres is not None:
            plan += [
                (started + duration * (n + 1) / (restarts + 1) + 7, "pg_restart")
                for n in range(restarts)
            ]
        self.plan = sorted(plan)

    def run(self) -> None:
        for at, kind in self.plan:
            if self.stop_event.wait(max(0.0, at - time.time())):
                return
            start = time.time()
            detail: dict[str, Any] = {}
            if kind == "worker_kill":
                workers = self.server.workers()
                if not workers:
                    continue
                victim = random.choice(workers)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(victim, signal.SIGKILL)
                detail["pid"] = victim
                end = start
            else:
                assert self.postgres is not None
                self.postgres.stop()
                down = time.time()
                time.sleep(self.outage)
                self.postgres.start()
                end = time.time()
                detail["down_s"] = round(end - down, 1)
            self.windows.append(report.Window(kind, start - 1, end + self.settle))
            self.log.append({"kind": kind, "start": start, "end": end, **detail})


def log_tracebacks(server: Server) -> dict[str, int]:
    """Each traceback in the server's logs, by its final line's exception."""
    found: Counter[str] = Counter()
    for path in server.logs:
        if not path.exists():
            continue
        lines = path.read_text(errors="replace").splitlines()
        for number, line in enumerate(lines):
            if line.startswith("Traceback"):
                for after in lines[number + 1 :]:
                    if after and not after.startswith(
                        (" ", "Traceback", "During", "The above")
                    ):
                        found[after.split(":", 1)[0][:80]] += 1
                        break
    return dict(found)


def run_one(args: argparse.Namespace, database: str, home: Path) -> dict[str, Any]:
    postgres: Postgres | None = None
    if database == "postgresql":
        postgres = Postgres(home / "pg", args.pg_port)
        postgres.start()
        url = postgres.new_database("soak")
    else:
        url = f"sqlite:///{home / 'soak.db'}"
    server = Server(
        kind="project",
        rotate=True,
        db_kind=database,
        db_url=url,
        home=home / "server",
        instance=home / "instance",
        client_secret="",
        pg_pre_ping=True,
        worker_args=("--workers", str(args.workers), "--worker-class", "sync"),
    )
    wrk: wrkload.WrkRun | None = None
    try:
        clients = register_clients(server)
        server.start()
        base_url = f"http://127.0.0.1:{server.port}"
        started = time.time()
        deadline = started + args.duration
        wrk = wrkload.start(
            args.wrk,
            base_url,
            home / "wrk",
            connections=args.wrk_connections,
            seconds=args.duration,
            rotate=clients.rotate,
            renew_off=clients.renew_off,
        )
        faults = Faults(
            server,
            postgres,
            started=started,
            duration=args.duration,
            kill_every=args.kill_every,
            restarts=args.pg_restarts if postgres is not None else 0,
            outage=args.outage,
            settle=args.settle,
        )
        faults.start()
        recorder, threads = run_drivers(
            base_url, clients, args.drivers, deadline, faults.stop_event.is_set
        )
        wrk_result = wrk.wait(timeout=args.duration + 60)
        for thread in threads:
            thread.join(timeout=60)
        faults.stop_event.set()
        faults.join(timeout=120)
        # gunicorn stops every worker when one fails to boot: say so.
        assert server.process is not None
        server_exit = server.process.poll()
        audit = flask_cli(server, "oauth2", "audit", "--json")
        try:
            audit_report: dict[str, Any] = json.loads(audit.stdout)
        except ValueError:
            audit_report = {"unreadable": audit.stdout[-2000:] + audit.stderr[-2000:]}
        found = report.answers(recorder.events, wrkload.events(wrk_result))
        return {
            "database": database,
            "duration_s": args.duration,
            "started": started,
            "workers": args.workers,
            "wrk_connections": args.wrk_connections,
            "drivers": args.drivers,
            "settle_s": args.settle,
            "faults": faults.log,
            "summary": report.summarize(
                found, faults.windows, wrk_result.get("socket_errors", {})
            ),
            "anomalies": recorder.anomalies,
            "tracebacks": log_tracebacks(server),
            "server_exited": server_exit,
            "audit": {"exit_code": audit.returncode, "report": audit_report},
        }
    finally:
        if wrk is not None and wrk.popen.poll() is None:
            wrk.popen.kill()
            wrk.popen.wait(timeout=30)
        server.stop()
        if postgres is not None:
            postgres.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(  # exit status: 0 clean, 1 a finding
        prog="bench/soak", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument(
        "--duration", type=parse_duration, default=600, help="e.g. 600, 10m (default)"
    )
    parser.add_argument(
        "--db", choices=("postgresql", "sqlite", "both"), default="postgresql"
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--wrk-connections", type=int, default=4)
    parser.add_argument("--drivers", type=int, default=3, help="Python driver threads")
    parser.add_argument("--kill-every", type=int, default=60, help="seconds")
    parser.add_argument("--pg-restarts", type=int, default=3)
    parser.add_argument(
        "--outage", type=float, default=5.0, help="seconds PostgreSQL stays down"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=5.0,
        help="seconds after a fault still counted as its window",
    )
    parser.add_argument("--pg-port", type=int, default=54340)
    parser.add_argument("--out", type=Path, help="write the JSON result here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    args.wrk = shutil.which("wrk")
    if args.wrk is None:
        parser.error("wrk is not installed (apt-get install wrk)")
    databases = ["postgresql", "sqlite"] if args.db == "both" else [args.db]
    results = []
    home = Path(tempfile.mkdtemp(prefix="soak-"))
    home.chmod(0o755)  # scripts/postgres runs the server as another user under root
    try:
        for database in databases:
            result = run_one(args, database, home / database)
            report.print_summary(result)
            results.append(result)
    finally:
        for server in list(RUNNING):
            server.stop()
        if args.keep:
            print(f"work directory kept: {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"result: {args.out}")
    clean = all(
        r["summary"]["5xx_outside_faults"] == 0
        # During a fault too, nothing but 503 with Retry-After.
        and set(r["summary"]["5xx_during_faults"]) <= {"503 with Retry-After"}
        and r["audit"]["exit_code"] == 0
        and not r["anomalies"]
        and r["server_exited"] is None
        for r in results
    )
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
