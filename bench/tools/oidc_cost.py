"""What JWT access tokens and OpenID Connect cost, in one run, in-process.

    .venv/bin/python bench/tools/oidc_cost.py [--refreshes 200] [--rounds 7]
        [--calls 2000] [--database-url URL] [--json FILE]

The example app (SQLite in a fresh instance folder unless
``--database-url``) through Flask's test client — no HTTP server, one
process — as ``dpop_cost.py`` does. Modes alternate within each round (their
order rotates per round), each a chain of ``--refreshes`` rotating refreshes:

* ``opaque`` / ``jwt``: a password grant's family, a client with the app's
  opaque format and one set to ``access_token_format=jwt`` (ES256);
* ``code`` / ``code+openid``: a family from the authorization code grant
  with scope ``PRODUCTION`` and with ``openid PRODUCTION`` (a new ID token
  on every refresh).

Then protected-resource calls, alternating: ``GET /api/me`` through
``@require_oauth`` with an opaque token (one indexed SELECT), and a route of
the same app that verifies a JWT access token by signature alone (joserfc,
the JWKS imported once, ``typ``/``iss``/``aud``/``exp`` checked, no
database). Reported: medians over rounds of wall time and process CPU per
call, calls/s, and the three ratios of issue 21.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.append(str(REPO))
sys.path.append(str(REPO / "bench"))


class App:
    """The example app in a fresh instance folder, with the clients the
    modes need and a signature-only resource route."""

    def __init__(self, database_url: str | None) -> None:
        self.instance = Path(tempfile.mkdtemp(prefix="oidc-cost-"))
        os.environ["EXAMPLE_INSTANCE_PATH"] = str(self.instance)
        if database_url:
            os.environ["DATABASE_URL"] = database_url
        from flask import jsonify, request
        from joserfc import jwt
        from joserfc.jwk import KeySet

        from example_app import create_app
        from flask_refreshgrant import RefreshGrant

        self.app = app = create_app({"EXAMPLE_QUIET": True})
        keyset: list[Any] = []

        @app.get("/bench/jwt-me")
        def jwt_me() -> Any:
            """A resource server that trusts the signature alone (RFC 9068 §4)."""
            if not keyset:
                published: Any = RefreshGrant.state().keys.jwks()
                keyset.append(KeySet.import_key_set(published))
            token = request.headers.get("Authorization", "")[7:]
            decoded = jwt.decode(token, keyset[0], algorithms=["ES256"])
            claims = decoded.claims
            if (
                decoded.header.get("typ") != "at+jwt"
                or claims.get("iss") != issuer
                or claims.get("aud") != issuer
                or claims["exp"] <= time.time()
            ):
                return jsonify(error="invalid_token"), 401
            return jsonify(user_id=claims["sub"], scope=claims.get("scope"))

        issuer = "http://localhost"
        self.client = app.test_client()
        creds = json.loads((self.instance / "demo-client.json").read_text())
        self.demo = (creds["client_id"], creds["client_secret"])
        with app.app_context():
            made = RefreshGrant().create_client(
                name="jwt",
                grant_types=["password", "refresh_token"],
                scope="PRODUCTION SANDBOX",
                access_token_format="jwt",
            )
        assert made.client_secret is not None
        self.jwt_client = (made.client_id, made.client_secret)

    def password_family(self, auth: tuple[str, str]) -> dict[str, Any]:
        response = self.client.post(
            "/oauth2/token",
            data={
                "grant_type": "password",
                "username": "demo",
                "password": "demo",
                "scope": "PRODUCTION",
            },
            auth=auth,
        )
        assert response.status_code == 200, response.json
        return dict(response.json)  # type: ignore[arg-type]

    def code_family(self, scope: str) -> dict[str, Any]:
        """A family from the code grant (``apps/seed.py``'s ``code_grant``)."""
        from apps.seed import code_grant
        from core.common import basic_auth

        return code_grant(
            self.app, self.client, self.demo[0], basic_auth(*self.demo), scope
        )

    def chain(
        self, auth: tuple[str, str], first: dict[str, Any], count: int
    ) -> tuple[float, float]:
        token = first["refresh_token"]
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            response = self.client.post(
                "/oauth2/token",
                data={"grant_type": "refresh_token", "refresh_token": token},
                auth=auth,
            )
            token = response.json["refresh_token"]  # type: ignore[index]
        return (time.perf_counter() - wall) / count, (time.process_time() - cpu) / count

    def lookups(self, access_token: str, count: int) -> tuple[float, float]:
        """``require_oauth``'s work alone: the token's row by digest, live."""
        from flask_refreshgrant import RefreshGrant

        with self.app.app_context():
            store = RefreshGrant.state().store
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(count):
                row = store.find_access_token(access_token)
                assert row is not None and row.revoked_at is None
                store.session.rollback()  # each call its own transaction
            return (time.perf_counter() - wall) / count, (
                time.process_time() - cpu
            ) / count

    def verifications(self, token: str, count: int) -> tuple[float, float]:
        """A resource server's work alone: the JWT's signature and claims."""
        from joserfc import jwt
        from joserfc.jwk import KeySet

        from flask_refreshgrant import RefreshGrant

        with self.app.app_context():
            published: Any = RefreshGrant.state().keys.jwks()
        keyset = KeySet.import_key_set(published)
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            decoded = jwt.decode(token, keyset, algorithms=["ES256"])
            assert decoded.header["typ"] == "at+jwt"
            assert decoded.claims["exp"] > time.time()
        return (time.perf_counter() - wall) / count, (time.process_time() - cpu) / count

    def calls(self, path: str, access_token: str, count: int) -> tuple[float, float]:
        headers = {"Authorization": f"Bearer {access_token}"}
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            response = self.client.get(path, headers=headers)
        assert response.status_code == 200, response.json
        return (time.perf_counter() - wall) / count, (time.process_time() - cpu) / count


def alternate(
    modes: dict[str, Callable[[], tuple[float, float]]], rounds: int
) -> dict[str, dict[str, float]]:
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in modes}
    names = list(modes)
    for index in range(rounds):
        for name in names[index % len(names) :] + names[: index % len(names)]:
            runs[name].append(modes[name]())
    return {
        name: {
            "wall_us": statistics.median(w for w, _ in results) * 1e6,
            "cpu_us": statistics.median(c for _, c in results) * 1e6,
            "per_s": 1 / statistics.median(w for w, _ in results),
        }
        for name, results in runs.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--refreshes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--database-url")
    parser.add_argument("--json")
    args = parser.parse_args()
    bench = App(args.database_url)
    n = args.refreshes
    refreshes = alternate(
        {
            "opaque": lambda: bench.chain(
                bench.demo, bench.password_family(bench.demo), n
            ),
            "jwt": lambda: bench.chain(
                bench.jwt_client, bench.password_family(bench.jwt_client), n
            ),
            "code": lambda: bench.chain(bench.demo, bench.code_family("PRODUCTION"), n),
            "code+openid": lambda: bench.chain(
                bench.demo, bench.code_family("openid PRODUCTION"), n
            ),
        },
        args.rounds,
    )
    opaque_token = bench.password_family(bench.demo)["access_token"]
    jwt_token = bench.password_family(bench.jwt_client)["access_token"]
    resource = alternate(
        {
            "require_oauth (database)": lambda: bench.calls(
                "/api/me", opaque_token, args.calls
            ),
            "signature only (joserfc)": lambda: bench.calls(
                "/bench/jwt-me", jwt_token, args.calls
            ),
            "  lookup alone (no Flask)": lambda: bench.lookups(
                opaque_token, args.calls
            ),
            "  signature alone (no Flask)": lambda: bench.verifications(
                jwt_token, args.calls
            ),
        },
        args.rounds,
    )
    ratios = {
        "refresh jwt/opaque (target >= 0.9)": refreshes["jwt"]["per_s"]
        / refreshes["opaque"]["per_s"],
        "refresh openid/plain (target >= 0.85)": refreshes["code+openid"]["per_s"]
        / refreshes["code"]["per_s"],
        "resource signature/require_oauth (target >= 1.5)": resource[
            "signature only (joserfc)"
        ]["per_s"]
        / resource["require_oauth (database)"]["per_s"],
    }
    kind = "postgresql" if args.database_url else "sqlite"
    print(f"{kind}, {args.rounds} rounds, medians")
    print(f"{'mode':28} {'per s':>8} {'wall us':>9} {'CPU us':>8}")
    for name, row in {**refreshes, **resource}.items():
        print(
            f"{name:28} {row['per_s']:8.0f} {row['wall_us']:9.0f} {row['cpu_us']:8.0f}"
        )
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"refreshes": refreshes, "resource": resource, "ratios": ratios})
        )


if __name__ == "__main__":
    main()
