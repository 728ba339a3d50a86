"""Profile one server's token endpoint in-process, and count its SQL per refresh.

``python bench/tools/profile_endpoint.py KIND [--requests N] [--profile]`` with the
server's environment (``DATABASE_URL``, rotation setting, …; see ``run.py``)
seeds one grant, then refreshes it in a loop through Flask's test client —
no HTTP server, no network, one process — and prints one JSON object:

* ``statements`` per refresh, counted with a ``before_cursor_execute``
  listener, by verb (``SELECT``/``INSERT``/``UPDATE``), plus commits and pool
  checkouts (with ``pool_pre_ping`` each checkout also pings, outside the
  statement count), and the statements of one refresh;
* ``ms_per_refresh`` without a profiler;
* with ``--profile``: a cProfile of ``N`` refreshes — the top functions by
  cumulative and by own time, and the time spent in named parts of the
  request (client authentication, SELECTs, commit, Authlib request parsing,
  JSON, ``policy_for``, attribute reloads after commit, …).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.append(str(BENCH_DIR.parent))

from apps.seed import SEEDERS  # noqa: E402
from core.common import TOKEN_PATH, basic_auth  # noqa: E402
from sqlalchemy import event  # noqa: E402

#: Named parts of a request: (label, path fragment of the file, function name).
#: Cumulative time; nested parts are included in their parents.
PARTS: list[tuple[str, str, str]] = [
    ("whole request (test client -> response)", "werkzeug/test.py", "open"),
    (". Flask dispatch of the view", "flask/app.py", "full_dispatch_request"),
    (
        ". . project: create_token_response",
        "flask_refreshgrant/server/authorization_server.py",
        "create_token_response",
    ),
    (
        ". . . check_form_request (body-only checks)",
        "flask_refreshgrant/endpoints/token_request.py",
        "check_form_request",
    ),
    (". . . Authlib: create_oauth2_request", "", "create_oauth2_request"),
    (
        ". . . validate_token_request (project's, then Authlib's)",
        "flask_refreshgrant/grants/refresh.py",
        "validate_token_request",
    ),
    (
        ". . . . SELECT refresh token joined with its client",
        "",
        "find_refresh_token_and_client",
    ),
    (
        ". . . . Authlib: validate_token_request",
        "grants/refresh_token.py",
        "validate_token_request",
    ),
    (". . . . . client authentication", "", "authenticate_client"),
    (". . . . . . client lookup (get_client/query_client)", "", "get_client"),
    (
        ". . . . . . SELECT client (query_client, recipe)",
        "sqla_oauth2/functions.py",
        "query_client",
    ),
    (". . . . . SELECT refresh token (find_refresh_token)", "", "find_refresh_token"),
    (
        ". . . grant: create_token_response",
        "flask_refreshgrant/grants/refresh.py",
        "create_token_response",
    ),
    (". . . . load_user (SELECT user)", "", "authenticate_user"),
    (". . . . token generation", "", "generate_token"),
    (
        ". . . . store.rotate (UPDATE, 2 INSERTs or 1 CTE; commit)",
        "flask_refreshgrant/store/tokens.py",
        "rotate",
    ),
    (
        ". . . . store.issue_access_token (INSERT, commit)",
        "flask_refreshgrant/store/tokens.py",
        "issue_access_token",
    ),
    (
        ". . . Authlib: handle_response (JSON body)",
        "flask_oauth2/authorization_server.py",
        "handle_response",
    ),
    (
        ". session teardown (scoped_session.remove)",
        "sqlalchemy/orm/scoping.py",
        "remove",
    ),
    ("across the request:", "", "-"),
    ("  Session.commit (flush + DBAPI commit)", "sqlalchemy/orm/session.py", "commit"),
    ("  . ORM flush (unit of work, INSERTs)", "sqlalchemy/orm/session.py", "flush"),
    ("  . DBAPI commit", "sqlalchemy/engine/default.py", "do_commit"),
    (
        "  Session.execute (SELECT/UPDATE, ORM layer)",
        "sqlalchemy/orm/session.py",
        "execute",
    ),
    (
        "  DBAPI cursor.execute (all statements)",
        "sqlalchemy/engine/default.py",
        "do_execute",
    ),
    (
        "  expired-attribute reloads after commit",
        "sqlalchemy/orm/loading.py",
        "load_scalar_attributes",
    ),
    ("  pool checkout (incl. pre-ping)", "sqlalchemy/pool/base.py", "_checkout"),
    ("  settings.policy_for", "flask_refreshgrant/config.py", "policy_for"),
    ("  blinker signals (send)", "blinker/base.py", "send"),
    ("  json.dumps", "json/__init__.py", "dumps"),
    ("recipe: save_token (INSERT, commit)", "sqla_oauth2/functions.py", "save_token"),
    ("recipe: revoke_old_credential (UPDATE, commit)", "", "revoke_old_credential"),
]


def _create_app(kind: str) -> Any:
    if kind == "project":
        from example_app import create_app

        return create_app()
    if kind == "floor":
        from apps import floor_app

        return floor_app.create_app()
    from apps import authlib_recipe_app

    return authlib_recipe_app.create_app()


def _verb(statement: str) -> str:
    return statement.lstrip().split(None, 1)[0].upper()


def _short(statement: str) -> str:
    return re.sub(r"\s+", " ", statement).strip()[:160]


def _find(stats: pstats.Stats, fragment: str, name: str) -> tuple[int, float]:
    """Calls and cumulative seconds of function ``name`` in a file whose path
    contains ``fragment``. Of several matches (wrappers of one another, such
    as ``scoped_session.commit`` → ``Session.commit``) the outermost: the one
    with the most cumulative time."""
    best = (0, 0.0)
    raw: Any = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, funcname), (_cc, nc, _tt, ct, _callers) in raw.items():
        matches = funcname == name and fragment in filename.replace("\\", "/")
        if matches and ct > best[1]:
            best = (nc, ct)
    return best


def _top(stats: pstats.Stats, sort: str, limit: int) -> str:
    buffer = io.StringIO()
    stats.stream = buffer  # type: ignore[attr-defined]
    stats.sort_stats(sort).print_stats(limit)
    text = buffer.getvalue()
    start = text.find("   ncalls")
    return text[start:] if start >= 0 else text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(SEEDERS))
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--count-requests", type=int, default=200)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)

    seeded = SEEDERS[args.kind](1, 0)
    app = _create_app(args.kind)
    auth = {"Authorization": basic_auth(seeded["client_id"], seeded["client_secret"])}
    client = app.test_client()
    token = seeded["tokens"][0]

    def refresh() -> None:
        nonlocal token
        response = client.post(
            TOKEN_PATH,
            data={"grant_type": "refresh_token", "refresh_token": token},
            headers=auth,
            base_url="http://127.0.0.1",
        )
        if response.status_code != 200:
            raise RuntimeError(
                f"refresh failed: {response.status_code} {response.data!r}"
            )
        token = json.loads(response.data).get("refresh_token") or token

    with app.app_context():
        engine = app.extensions["sqlalchemy"].engine
    verbs: Counter[str] = Counter()
    counters: Counter[str] = Counter()
    last: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def count_statement(*args: Any) -> None:
        statement = args[2]
        verbs[_verb(statement)] += 1
        last.append(_short(statement))

    @event.listens_for(engine, "commit")
    def count_commit(*args: Any) -> None:
        counters["COMMIT"] += 1
        last.append("COMMIT")

    @event.listens_for(engine, "rollback")
    def count_rollback(*args: Any) -> None:
        counters["ROLLBACK"] += 1

    @event.listens_for(engine.pool, "checkout")
    def count_checkout(*args: Any) -> None:
        counters["pool checkouts"] += 1

    for _ in range(50):  # warm caches (compiled statements, imports)
        refresh()
    verbs.clear()
    counters.clear()
    for _ in range(args.count_requests):
        last.clear()
        refresh()
    n = args.count_requests
    result: dict[str, Any] = {
        "kind": args.kind,
        "statements": sum(verbs.values()) / n,
        "by_verb": {k: v / n for k, v in sorted(verbs.items())},
        "commits": counters["COMMIT"] / n,
        "rollbacks": counters["ROLLBACK"] / n,
        "checkouts": counters["pool checkouts"] / n,
        "one_refresh": list(last),
    }
    event.remove(engine, "before_cursor_execute", count_statement)
    event.remove(engine, "commit", count_commit)
    event.remove(engine, "rollback", count_rollback)
    event.remove(engine.pool, "checkout", count_checkout)

    started = time.perf_counter()
    for _ in range(args.requests):
        refresh()
    result["ms_per_refresh"] = (time.perf_counter() - started) / args.requests * 1000

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.requests):
            refresh()
        profiler.disable()
        stats = pstats.Stats(profiler)
        total = _find(stats, "werkzeug/test.py", "open")[1] or 1e-9
        parts = []
        for label, fragment, name in PARTS:
            if name == "-":
                parts.append(
                    {
                        "part": label,
                        "calls_per_refresh": None,
                        "ms_per_refresh": None,
                        "share": None,
                    }
                )
                continue
            calls, cumulative = _find(stats, fragment, name)
            if calls:
                parts.append(
                    {
                        "part": label,
                        "calls_per_refresh": calls / args.requests,
                        "ms_per_refresh": cumulative / args.requests * 1000,
                        "share": cumulative / total,
                    }
                )
        result["profile_requests"] = args.requests
        result["parts"] = parts
        result["top_cumulative"] = _top(stats, "cumulative", args.top)
        result["top_own"] = _top(stats, "tottime", args.top)
    sys.stdout.write("\n" + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
