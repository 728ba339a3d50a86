"""Issue 19, points 4 and 5, under real gunicorn over raw sockets (SPEC §13):
a body over ``OAUTH2_MAX_BODY_BYTES`` (16 KiB) is refused whether it comes
with ``Content-Length`` or chunked, never cut and processed; a malformed
chunked body is a JSON 400, not a 500. Sync and threaded workers, SQLite and
PostgreSQL."""

from __future__ import annotations

import base64
import json
import socket
from pathlib import Path

import pytest

from .live import WORKER_MODELS, LiveServer, count_rows, live_server

LIMIT = 16 * 1024
REQUEST_TIMEOUT = 30.0


def exchange(server: LiveServer, raw: bytes) -> tuple[int, dict[str, object]]:
    """Send ``raw`` on a new connection; the status and JSON body answered."""
    port = int(server.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=REQUEST_TIMEOUT) as s:
        s.sendall(raw)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *headers = head.decode("latin-1").split("\r\n")
    content_type = [h for h in headers if h.lower().startswith("content-type:")]
    assert content_type and "application/json" in content_type[0], answer[:500]
    return int(status_line.split()[1]), json.loads(body)


def request_head(server: LiveServer, framing: str) -> bytes:
    client_id, secret = server.credentials
    auth = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return (
        "POST /oauth2/token HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        f"Authorization: Basic {auth}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "Connection: close\r\n"
        f"{framing}\r\n"
        "\r\n"
    ).encode()


def chunked(server: LiveServer, body: bytes, size: int = 4096) -> bytes:
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    encoded = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts)
    return request_head(server, "Transfer-Encoding: chunked") + encoded + b"0\r\n\r\n"


def with_length(server: LiveServer, body: bytes) -> bytes:
    return request_head(server, f"Content-Length: {len(body)}") + body


def password_body(length: int, tail: bytes = b"") -> bytes:
    """A valid password grant for the demo user, padded to ``length`` bytes
    (``tail`` last)."""
    start = b"grant_type=password&username=demo&password=demo&scope=PRODUCTION&pad="
    return start + b"x" * (length - len(start) - len(tail)) + tail


@pytest.mark.parametrize("workers", ["sync", "gthread"])
def test_bodies_over_the_limit_are_refused_never_cut(
    tmp_path: Path, database_url: str, workers: str
) -> None:
    with live_server(tmp_path, database_url, WORKER_MODELS[workers]) as server:
        tokens = "SELECT count(*) FROM oauth2_refresh_token"
        # The request: 46 KB chunked, a second grant_type beyond
        # 16 KiB, which a cut body would never show.
        beyond = password_body(46_000, b"&grant_type=password&scope=SANDBOX")
        for raw in (chunked(server, beyond), with_length(server, beyond)):
            status, body = exchange(server, raw)
            assert (status, body["error"]) == (413, "invalid_request"), body
            assert body["error_description"] == (
                f"The request body is larger than {LIMIT} bytes."
            )
        # One byte over is over; the limit itself is accepted.
        for frame in (chunked, with_length):
            status, body = exchange(server, frame(server, password_body(LIMIT + 1)))
            assert status == 413, body
        assert count_rows(database_url, tokens) == 0  # nothing processed
        for frame in (chunked, with_length):
            status, body = exchange(server, frame(server, password_body(LIMIT)))
            assert status == 200, body
            assert body["scope"] == "PRODUCTION"
        assert count_rows(database_url, tokens) == 2


#: Chunked encodings gunicorn cannot decode (it raised its own parse errors
#: into the app: a 500).
MALFORMED_CHUNKS = [
    b"zz\r\nabc\r\n0\r\n\r\n",  # not a chunk size
    b"5\r\nabcdefgh\r\n0\r\n\r\n",  # chunk longer than its size
    b"-1\r\nabc\r\n0\r\n\r\n",  # negative size
    b"3;\x00\r\nabc\r\n0\r\n\r\n",  # NUL in a chunk extension
]


@pytest.mark.parametrize("workers", ["sync", "gthread"])
def test_a_malformed_chunked_body_is_a_json_400(tmp_path: Path, workers: str) -> None:
    """No database work happens before the body is read: SQLite only."""
    database_url = f"sqlite:///{tmp_path / 'test.db'}"
    with live_server(tmp_path, database_url, WORKER_MODELS[workers]) as server:
        for encoded in MALFORMED_CHUNKS:
            raw = request_head(server, "Transfer-Encoding: chunked") + encoded
            status, body = exchange(server, raw)
            assert (status, body["error"]) == (400, "invalid_request"), (encoded, body)
