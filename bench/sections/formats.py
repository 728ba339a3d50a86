"""The formats section: the new token formats and resource paths, each
against its baseline measured in the same run (issue 23, point 3).

Refreshes (rotation on, the example app as shipped, on every database):

* ``jwt`` against ``opaque``: the demo client's password-grant families, on a
  server with ``OAUTH2_ACCESS_TOKEN_FORMAT=jwt`` (an RFC 9068 JWT signed with
  ES256 per refresh) and on one with the default opaque tokens;
* ``code+openid`` against ``code``: families from the authorization code grant
  with scope ``openid PRODUCTION SANDBOX`` (a new ID token per refresh) and
  with ``PRODUCTION SANDBOX``.

Resource calls (one database: the verifiers do no SQL; PostgreSQL when it is
in ``--db``, for ``@require_oauth``'s lookup):

* ``signature (JWKS)``: ``apps/jwt_resource_app.py``, ``ProtectedResource`` /
  ``TokenVerifier`` checking a JWT access token against the JWKS of the
  example app (``issuer``: JWT format, its own URL as ``OAUTH2_ISSUER``, the
  resource as ``OAUTH2_DEFAULT_RESOURCE``), against ``@require_oauth``
  (``apps/project_resource_app.py``, the access token's row by digest);
* ``MCP tool call``: ``python -m example_app.mcp_server --jwt-only`` as shipped
  (uvicorn, one process), a ``tools/call`` of ``whoami`` in a session opened
  per connection, against the signature-verified call above (wrk only).
"""

from __future__ import annotations

import http.client
import json
from typing import Any

from core.common import RESOURCE_PATH, SCOPE, TOKEN_PATH
from core.harness import Bench
from core.report import (
    load_cells,
    load_headers,
    log,
    median,
    per_round,
    ratio,
    summary,
    table,
    verdict,
)
from core.servers import PYTHON, Server
from core.settings import (
    TARGET_JWT_VS_OPAQUE,
    TARGET_OPENID_VS_PLAIN,
    TARGET_SIGNATURE_VS_DATABASE,
)

#: Refresh rows: label, the server's extra environment, ``apps/seed.py``'s
#: options for its chains.
REFRESH_ROWS: list[tuple[str, dict[str, str], tuple[str, ...]]] = [
    ("opaque", {}, ()),
    ("jwt", {"FLASK_OAUTH2_ACCESS_TOKEN_FORMAT": "jwt"}, ()),
    ("code", {}, ("--code-scope", SCOPE)),
    ("code+openid", {}, ("--code-scope", f"openid {SCOPE}")),
]
#: The resource identifier (RFC 8707) of the JWT-verified API and the MCP
#: server: the audience of the issuer's tokens.
RESOURCE = "http://127.0.0.1/bench/mcp"
MCP_PATH = "/mcp"
SIGNATURE = "signature (JWKS)"
DATABASE = "@require_oauth (database)"
MCP = "MCP tool call"
#: (row, baseline, target or None): the ratios reported, row/baseline.
PAIRS: list[tuple[str, str, float | None]] = [
    ("jwt", "opaque", TARGET_JWT_VS_OPAQUE),
    ("code+openid", "code", TARGET_OPENID_VS_PLAIN),
    (SIGNATURE, DATABASE, TARGET_SIGNATURE_VS_DATABASE),
    (MCP, SIGNATURE, None),
]


def formats(bench: Bench) -> None:
    s = bench.settings
    figures: dict[str, dict[str, Any]] = {}
    for db_kind in s.databases:
        for label, values in refreshes(bench, db_kind).items():
            figures[f"{db_kind}/{label}"] = summary(values)
    resource_db = "postgresql" if "postgresql" in s.databases else s.databases[0]
    for label, values in resources(bench, resource_db).items():
        figures[f"{resource_db}/{label}"] = summary(values)
    bench.results["formats"] = figures
    print_formats(bench, figures, resource_db)


def refreshes(bench: Bench, db_kind: str) -> dict[str, list[dict[str, Any]]]:
    """Every refresh row of ``db_kind``, interleaved in rounds."""
    log(f"formats: {db_kind}: seeding and starting {len(REFRESH_ROWS)} servers")
    servers: dict[str, Server] = {}
    for label, env, seed_args in REFRESH_ROWS:
        name = f"formats_{db_kind}_{label.replace('+', '_')}"
        server = bench.server("project", True, db_kind, name)
        server.extra_env = dict(env)
        server.seed_args = seed_args
        servers[label] = server
    try:
        bench.start_all(list(servers.values()))
        return bench.interleave(
            [
                (label, server, "refresh", TOKEN_PATH)
                for label, server in servers.items()
            ],
            f"formats: {db_kind}",
        )
    finally:
        bench.stop(servers.values(), f"{db_kind}, formats")


def resources(bench: Bench, db_kind: str) -> dict[str, list[dict[str, Any]]]:
    """The resource rows on ``db_kind``: ``@require_oauth``, the signature
    check and (with wrk and the ``mcp`` package) the MCP tool call."""
    s = bench.settings
    n = s.connections
    log(f"formats: resource calls on {db_kind}: seeding and starting 4 servers")
    issuer = bench.server("project", True, db_kind, f"formats_{db_kind}_issuer")
    issuer.own_issuer = True
    issuer.extra_env = {
        "FLASK_OAUTH2_ACCESS_TOKEN_FORMAT": "jwt",
        "FLASK_OAUTH2_DEFAULT_RESOURCE": RESOURCE,
    }
    database = bench.server("project", True, db_kind, f"formats_{db_kind}_database")
    database.app = "apps.project_resource_app:create_app()"
    started = [issuer, database]
    try:
        issuer.start()
        issuer.add_access_tokens(n)  # JWTs: the issuer's URL is known now
        database.add_access_tokens(n)
        database.start()
        signature = bench.server(
            "project",
            True,
            db_kind,
            f"formats_{db_kind}_signature",
            db_url=issuer.db_url,
        )
        signature.app = "apps.jwt_resource_app:create_app()"
        signature.extra_env = {
            "BENCH_ISSUER": issuer.base_url,
            "BENCH_RESOURCE": RESOURCE,
        }
        signature.access_tokens = list(issuer.access_tokens)
        started.append(signature)
        signature.start()
        loads = [(DATABASE, database, "resource"), (SIGNATURE, signature, "resource")]
        mcp = _mcp_server(bench, issuer)
        if mcp is not None:
            started.append(mcp)
            mcp.start()
            mcp.sessions = [open_session(mcp.port, t) for t in mcp.access_tokens]
            loads.append((MCP, mcp, "mcp"))
        drivers = []
        for label, server, kind in loads:
            path = MCP_PATH if kind == "mcp" else RESOURCE_PATH
            # Both workers warm (and the JWKS fetched), the route checked.
            bench.load([server], mode="count", requests=10, kind=kind, path=path)
            drivers.append((label, server, kind, path))
        return bench.interleave(drivers, f"formats: {db_kind}")
    finally:
        bench.stop(started, f"{db_kind}, formats")


def _mcp_server(bench: Bench, issuer: Server) -> Server | None:
    """The example MCP server for ``issuer``'s JWTs, or ``None`` (and a
    problem) when it cannot be driven: no wrk, or no ``mcp`` package."""
    if not bench.settings.wrk:
        bench.problems.append("formats: no MCP row: it needs wrk (--loadgen python)")
        return None
    try:
        import mcp  # noqa: F401
    except ImportError:
        bench.problems.append("formats: no MCP row: the mcp package is missing")
        return None
    server = bench.server(
        "project",
        True,
        issuer.db_kind,
        f"formats_{issuer.db_kind}_mcp",
        db_url=issuer.db_url,
    )
    server.command = (
        PYTHON,
        "-m",
        "example_app.mcp_server",
        "--port",
        "{port}",
        "--issuer",
        issuer.base_url,
        "--url",
        RESOURCE,
        "--jwt-only",
    )
    server.access_tokens = list(issuer.access_tokens)
    return server


def open_session(port: int, token: str) -> str:
    """An MCP session on the server at ``port``, opened with ``token``
    (``initialize``, then ``notifications/initialized``): its id."""
    from mcp.types import LATEST_PROTOCOL_VERSION

    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
    }
    hello = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": LATEST_PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "flask-refreshgrant bench", "version": "1"},
        },
    }
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", MCP_PATH, json.dumps(hello), headers)
        response = conn.getresponse()
        body = response.read()
        session = response.getheader("Mcp-Session-Id")
        if response.status != 200 or not session:
            raise RuntimeError(f"MCP initialize: {response.status} {body[:500]!r}")
        headers["Mcp-Session-Id"] = session
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        conn.request("POST", MCP_PATH, json.dumps(initialized), headers)
        response = conn.getresponse()
        body = response.read()
        if response.status not in (200, 202):
            raise RuntimeError(f"MCP initialized: {response.status} {body[:500]!r}")
        return session
    finally:
        conn.close()


def print_formats(
    bench: Bench, figures: dict[str, dict[str, Any]], resource_db: str
) -> None:
    s = bench.settings
    rows = [
        [db_kind, label, *load_cells(figures[f"{db_kind}/{label}"])]
        for db_kind in s.databases
        for label, _, _ in REFRESH_ROWS
    ]
    bench.emit(
        f"\n== Formats: refreshes (rotation on) returning opaque or JWT access "
        f"tokens, of grants with and without openid; the example app under "
        f"gunicorn (2 sync workers, 127.0.0.1), {s.connections} client "
        f"connections, median of {s.runs} run(s) x {s.duration:g} s after "
        f"{s.warmup:g} s warm-up ==\n"
    )
    bench.emit(table(["db", "refresh", *load_headers("refreshes/s", "r")], rows))
    rows = [
        [resource_db, label, *load_cells(figures[f"{resource_db}/{label}"])]
        for label in (DATABASE, SIGNATURE, MCP)
        if f"{resource_db}/{label}" in figures
    ]
    bench.emit(
        f"\nResource calls on {resource_db} (the verifiers do no SQL; the "
        "database is @require_oauth's): GET /api/resource with a bearer token "
        "under gunicorn (2 sync workers); the MCP server (uvicorn, one process, "
        "connections kept alive) answering POST /mcp tools/call 'whoami':\n"
    )
    bench.emit(table(["db", "call", *load_headers("calls/s", "c")], rows))
    ratio_rows = []
    for db_kind in s.databases:
        for label, base, target in PAIRS:
            a, b = figures.get(f"{db_kind}/{label}"), figures.get(f"{db_kind}/{base}")
            if a is None or b is None:
                continue
            rounds = per_round(a, b)
            value = median(rounds)
            ratio_rows.append(
                [
                    db_kind,
                    label,
                    base,
                    value,
                    "(not a target)"
                    if target is None
                    else f"{verdict(value >= target)} (>= {target})",
                    " ".join(f"{x:.2f}" for x in rounds),
                    ratio(a["p50_ms"], b["p50_ms"]),
                    ratio(a["p99_ms"], b["p99_ms"]),
                    ratio(b["server_cpu_ms"], a["server_cpu_ms"]),
                ]
            )
    bench.emit(
        "\nRatios row/baseline: throughput (median of the per-round ratios; "
        "each round runs every row back to back), p50 and p99 latency (lower "
        "is better), server CPU per request baseline/row (higher is better "
        "for the row):\n"
    )
    bench.emit(
        table(
            [
                "db",
                "row",
                "baseline",
                "x baseline",
                "target",
                "per round",
                "p50 r/b",
                "p99 r/b",
                "CPU b/r",
            ],
            ratio_rows,
        )
    )
