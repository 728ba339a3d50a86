"""What a DPoP refresh costs next to a bearer refresh, in one run, in-process.

    .venv/bin/python bench/tools/dpop_cost.py [--refreshes 200] [--rounds 7]
        [--database-url URL] [--baseline TREE] [--json FILE]

The example app (``example_app:create_app()``, SQLite in a fresh instance
folder unless ``--database-url``) serves rotating refreshes of the
confidential demo client through Flask's test client — no HTTP server, no
network, one process. Each round runs a chain of ``--refreshes`` refreshes
per mode, modes alternating (their order rotates per round, so a change in
the machine's load hits all of them): ``bearer``, then ``DPoP`` with an
``ES256``, ``EdDSA``, ``RS256`` and ``PS256`` key. Proofs are signed before
the timed loop; the timing covers the server only. Reported: the median over
rounds of the wall time and the process CPU per refresh, refreshes/s, and
the DPoP overhead over bearer. Separately, the CPU of verifying one proof
(``dpop.jws.verify``: JWS parsing, key import, signature, RFC 7638
thumbprint) per algorithm, without the database.

``--baseline TREE`` (a checkout of another commit, e.g. ``git archive main |
tar -x -C /tmp/base``) also runs bearer-only chains with that tree's code,
in subprocesses alternating with this tree's, to show that bearer refresh
throughput did not change.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
# example_app is not installed; PYTHONPATH (a --baseline tree) goes first.
sys.path.append(str(REPO))
TOKEN_URL = "http://localhost/oauth2/token"
ALGORITHMS = ("ES256", "EdDSA", "RS256", "PS256")


# -- the client side: keys and proofs ---------------------------------------------


def new_key(alg: str) -> Any:
    from joserfc.jwk import ECKey, OKPKey, RSAKey

    if alg in ("RS256", "PS256"):
        return RSAKey.generate_key(2048)
    if alg == "EdDSA":
        return OKPKey.generate_key("Ed25519")
    return ECKey.generate_key("P-256")


def proofs(key: Any, alg: str, count: int) -> list[str]:
    """``count`` fresh proofs (distinct ``jti``) for the token endpoint."""
    import secrets

    from joserfc import jws
    from joserfc.errors import SecurityWarning

    header = {"typ": "dpop+jwt", "alg": alg, "jwk": key.as_dict(private=False)}
    now = int(time.time())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # "EdDSA", RFC 9864
        return [
            jws.serialize_compact(
                header,
                json.dumps(
                    {
                        "jti": secrets.token_urlsafe(16),
                        "htm": "POST",
                        "htu": TOKEN_URL,
                        "iat": now,
                    }
                ),
                key,
                algorithms=[alg],
            )
            for _ in range(count)
        ]


# -- the server, in-process ---------------------------------------------------------


class App:
    """The example app in a fresh instance folder, and its demo client."""

    def __init__(self, database_url: str | None) -> None:
        self.instance = Path(tempfile.mkdtemp(prefix="dpop-cost-"))
        os.environ["EXAMPLE_INSTANCE_PATH"] = str(self.instance)
        if database_url:
            os.environ["DATABASE_URL"] = database_url
        from example_app import create_app

        self.app = create_app({"EXAMPLE_QUIET": True})
        self.client = self.app.test_client()
        creds = json.loads((self.instance / "demo-client.json").read_text())
        self.auth = (creds["client_id"], creds["client_secret"])

    def grant(self) -> str:
        response = self.client.post(
            "/oauth2/token",
            data={
                "grant_type": "password",
                "username": "demo",
                "password": "demo",
                "scope": "PRODUCTION",
            },
            auth=self.auth,
        )
        assert response.status_code == 200, response.json
        return str(response.json["refresh_token"])  # type: ignore[index]

    def chain(
        self, count: int, headers: list[dict[str, str]] | None
    ) -> tuple[float, float]:
        """``count`` rotating refreshes of one grant; wall and CPU seconds."""
        token = self.grant()
        form = {"grant_type": "refresh_token", "refresh_token": token}
        post = self.client.post
        wall, cpu = time.perf_counter(), time.process_time()
        for index in range(count):
            response = post(
                "/oauth2/token",
                data=form,
                auth=self.auth,
                headers=None if headers is None else headers[index],
            )
            if response.status_code != 200:
                raise SystemExit(f"refresh failed: {response.get_data(as_text=True)}")
            form["refresh_token"] = response.json["refresh_token"]  # type: ignore[index]
        return time.perf_counter() - wall, time.process_time() - cpu


# -- measurements -------------------------------------------------------------------


def verifying(made: Any, verify: Any) -> Any:
    """One verification of the next proof, for ``timeit``."""
    return lambda: verify(next(made), ALGORITHMS)


def signature_cpu(alg: str, key: Any, made: list[str]) -> float:
    """Microseconds of CPU of the signature check alone (joserfc's algorithm,
    the key already imported), for comparison."""
    from joserfc import jws
    from joserfc.util import urlsafe_b64decode

    model = jws.JWSRegistry.algorithms[alg]
    public = key.__class__.import_key(key.as_dict(private=False))
    signed = []
    for value in made:
        header, payload, signature = value.encode().split(b".")
        signed.append((header + b"." + payload, urlsafe_b64decode(signature)))

    def run() -> None:
        for message, signature in signed:
            assert model.verify(message, signature, public)

    best = min(timeit.repeat(run, number=1, repeat=3, timer=time.process_time))
    return best / len(signed) * 1e6


def verification_cpu(samples: int) -> dict[str, dict[str, float]]:
    """Microseconds of CPU to check one proof's JWS (``dpop.jws.verify``), per
    algorithm, without the database; and of its signature alone."""
    from flask_refreshgrant.dpop import jws

    result: dict[str, dict[str, float]] = {}
    for alg in ALGORITHMS:
        key = new_key(alg)
        made = proofs(key, alg, samples)
        timer = timeit.Timer(
            verifying(iter(made * 3), jws.verify), timer=time.process_time
        )
        runs = timer.repeat(repeat=3, number=samples)
        result[alg] = {
            "verify_us": min(runs) / samples * 1e6,
            "signature_us": signature_cpu(alg, key, made),
        }
    return result


def alternate(
    app: App, refreshes: int, rounds: int, modes: list[str]
) -> dict[str, dict[str, float]]:
    keys = {alg: new_key(alg) for alg in modes if alg != "bearer"}
    per_mode: dict[str, list[tuple[float, float]]] = {mode: [] for mode in modes}
    app.chain(20, None)  # warm up
    for round_number in range(rounds):
        order = modes[round_number % len(modes) :] + modes[: round_number % len(modes)]
        for mode in order:
            headers = None
            if mode != "bearer":
                headers = [{"DPoP": p} for p in proofs(keys[mode], mode, refreshes)]
            wall, cpu = app.chain(refreshes, headers)
            per_mode[mode].append((wall / refreshes, cpu / refreshes))
        print(f"round {round_number + 1}/{rounds} done", file=sys.stderr)
    return {
        mode: {
            "wall_us": statistics.median(w for w, _ in runs) * 1e6,
            "cpu_us": statistics.median(c for _, c in runs) * 1e6,
            "per_s": 1 / statistics.median(w for w, _ in runs),
        }
        for mode, runs in per_mode.items()
    }


def baseline(tree: Path, refreshes: int, rounds: int) -> dict[str, list[float]]:
    """Bearer-only chains with ``tree``'s code and with this one's, alternating
    in fresh processes; refreshes/s of each run."""
    runs: dict[str, list[float]] = {"baseline": [], "this": []}
    for _ in range(rounds):
        for name, path in (("baseline", tree), ("this", REPO)):
            env = {**os.environ, "PYTHONPATH": str(path)}
            output = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--bearer-only",
                    "--refreshes",
                    str(refreshes),
                ],
                capture_output=True,
                text=True,
                env=env,
                cwd=path,
                check=True,
            ).stdout
            runs[name].append(json.loads(output)["bearer"]["per_s"])
    return runs


# -- the report ---------------------------------------------------------------------


def report(
    modes: dict[str, dict[str, float]],
    verify: dict[str, dict[str, float]],
    base: dict[str, list[float]] | None,
    database: str,
) -> str:
    bearer = modes["bearer"]
    lines = [
        f"DPoP refresh cost, in-process (Flask test client), {database}",
        "",
        "| mode | refreshes/s | wall µs/refresh | CPU µs/refresh | extra wall µs "
        "| extra CPU µs | proof JWS check CPU µs | of which signature µs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for mode, row in modes.items():
        cells = ["bearer", "", "", "", ""]
        if mode != "bearer":
            cells = [
                f"DPoP {mode}",
                f"{row['wall_us'] - bearer['wall_us']:+.0f}",
                f"{row['cpu_us'] - bearer['cpu_us']:+.0f}",
                f"{verify[mode]['verify_us']:.0f}",
                f"{verify[mode]['signature_us']:.0f}",
            ]
        lines.append(
            f"| {cells[0]} | {row['per_s']:.0f} | {row['wall_us']:.0f} | "
            f"{row['cpu_us']:.0f} | {' | '.join(cells[1:])} |"
        )
    cheapest = min(verify, key=lambda alg: verify[alg]["verify_us"])
    lines += [
        "",
        f"cheapest proof to check: {cheapest} "
        f"({verify[cheapest]['verify_us']:.0f} µs CPU)",
    ]
    if base is not None:
        old = statistics.median(base["baseline"])
        new = statistics.median(base["this"])
        lines += [
            "",
            f"bearer refreshes/s, baseline tree vs this tree (median of "
            f"{len(base['this'])} alternating runs): {old:.0f} vs {new:.0f} "
            f"({(new / old - 1) * 100:+.1f} %)",
        ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--refreshes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--verify-samples", type=int, default=1000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--baseline", type=Path, default=None)
    parser.add_argument("--bearer-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.bearer_only:
        import flask_refreshgrant

        print(f"code from {flask_refreshgrant.__file__}", file=sys.stderr)
        app = App(args.database_url)
        app.chain(20, None)
        wall, _ = app.chain(args.refreshes, None)
        print(json.dumps({"bearer": {"per_s": args.refreshes / wall}}))
        return 0
    app = App(args.database_url)
    database = app.app.config["SQLALCHEMY_DATABASE_URI"].split(":", 1)[0]
    modes = alternate(app, args.refreshes, args.rounds, ["bearer", *ALGORITHMS])
    verify = verification_cpu(args.verify_samples)
    base = None
    if args.baseline is not None:
        base = baseline(args.baseline, args.refreshes, args.rounds)
    text = report(modes, verify, base, database)
    print(text)
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {"modes": modes, "verify_us": verify, "baseline": base}, indent=2
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
