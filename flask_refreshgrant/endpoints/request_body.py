"""Reading a request body whole, or refusing it (SPEC §13): a body over
``OAUTH2_MAX_BODY_BYTES`` is refused, with or without ``Content-Length``,
chunked included, and never cut and processed.

Werkzeug limits a streamed (chunked) body to ``max_content_length`` by
stopping there: a body over the limit came out cut at exactly the limit,
and a second ``grant_type`` beyond it was never seen. So the body is read
here with a limit one byte larger, before anything parses it, and one that
fills it is refused. A chunked body the server cannot decode (gunicorn
raises its own parse errors) is refused as malformed.
"""

from __future__ import annotations

import contextlib

from flask.wrappers import Request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

#: Most bytes read and thrown away after a refused body, so that the client
#: sees the answer rather than a reset connection.
_DRAIN_BYTES = 1024 * 1024


class BodyTooLarge(Exception):
    """The body is larger than the limit."""


class MalformedBody(Exception):
    """The body could not be read (a broken chunked encoding, a client that
    went away)."""


def read_body(request: Request, limit: int) -> None:
    """Read ``request``'s body now, and keep it for the form parser.

    :raises BodyTooLarge: it has more than ``limit`` bytes.
    :raises MalformedBody: it could not be read.
    """
    request.max_content_length = limit + 1
    try:
        body = request.get_data(cache=True)
    except RequestEntityTooLarge:
        # Content-Length says too much (nothing read yet), or a streamed
        # body went past the limit.
        _drain(request, already_read=0)
        raise BodyTooLarge from None
    except HTTPException as error:  # ClientDisconnected, a broken stream
        raise MalformedBody from error
    except Exception as error:  # the WSGI server's own chunked-decoding errors
        raise MalformedBody from error
    if len(body) > limit:
        _drain(request, already_read=len(body))
        raise BodyTooLarge


def _drain(request: Request, *, already_read: int) -> None:
    """Read (a bounded part of) what is left of a refused body: a server
    that closes a connection with unread data in it resets it, and the
    client may lose the answer."""
    environ = request.environ
    stream = environ.get("wsgi.input")
    if stream is None:
        return
    remaining = _DRAIN_BYTES
    if not environ.get("wsgi.input_terminated"):
        if request.content_length is None:
            return
        # Never wait for more than the client said it sends.
        remaining = min(remaining, request.content_length - already_read)
    with contextlib.suppress(Exception):
        while remaining > 0:
            data = stream.read(min(65536, remaining))
            if not data:
                break
            remaining -= len(data)
