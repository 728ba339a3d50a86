"""Call one server's route N times in-process: what the instructions section counts.

``python bench/load/inprocess_loop.py KIND ROUTE N`` with the server's environment
(``DATABASE_URL``, …; see ``servers.Server.env``) seeds one grant, builds the
app, makes ``--warm`` calls, then ``N`` more through Flask's test client —
no HTTP, one process — and prints one JSON line. ROUTE is ``token`` (the
refresh grant, chaining the refresh tokens), ``resource`` (``GET
/api/resource`` with a bearer token; the project's app is
``project_resource_app``) or ``me`` (the example app's ``/api/me``).

Run under ``valgrind --tool=callgrind`` with two values of ``N``, the
difference of the instruction totals over the difference of ``N`` is the
instructions per call: set-up, imports and warm-up cancel out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.append(str(BENCH_DIR.parent))

from apps.seed import SEEDERS  # noqa: E402
from core.common import RESOURCE_PATH, TOKEN_PATH, basic_auth  # noqa: E402

ROUTES = ("token", "resource", "me")


def create_app(kind: str, route: str) -> Any:
    if kind == "project":
        if route == "token":
            from example_app import create_app as create_example_app

            return create_example_app()
        from apps import project_resource_app

        return project_resource_app.create_app()
    if kind == "floor":
        from apps import floor_app

        return floor_app.create_app()
    from apps import authlib_recipe_app

    return authlib_recipe_app.create_app()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(SEEDERS))
    parser.add_argument("route", choices=ROUTES)
    parser.add_argument("n", type=int)
    parser.add_argument("--warm", type=int, default=20)
    args = parser.parse_args(argv)
    if args.route == "me" and args.kind != "project":
        parser.error("route me: the example app's /api/me (project only)")

    seeded = SEEDERS[args.kind](1, 0, 1)
    app = create_app(args.kind, args.route)
    client = app.test_client()
    basic = {"Authorization": basic_auth(seeded["client_id"], seeded["client_secret"])}
    bearer = {"Authorization": "Bearer " + seeded["access_tokens"][0]}
    path = {"token": TOKEN_PATH, "resource": RESOURCE_PATH, "me": "/api/me"}[args.route]
    token = seeded["tokens"][0]

    def call() -> None:
        nonlocal token
        if args.route == "token":
            response = client.post(
                path,
                data={"grant_type": "refresh_token", "refresh_token": token},
                headers=basic,
                base_url="http://127.0.0.1",
            )
        else:
            response = client.get(path, headers=bearer, base_url="http://127.0.0.1")
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.data!r}")
        if args.route == "token":
            token = json.loads(response.data).get("refresh_token") or token

    for _ in range(args.warm):
        call()
    started = time.process_time()
    for _ in range(args.n):
        call()
    cpu = time.process_time() - started
    sys.stdout.write(
        "\n" + json.dumps({"n": args.n, "cpu_ms": cpu / max(1, args.n) * 1000}) + "\n"
    )


if __name__ == "__main__":
    main()
