"""JSON with bounds (SPEC §13): a document larger than 8 KiB or nested
deeper than 32 levels is refused before it is parsed, so no input can make
the parser recurse or allocate without limit. No Flask, no SQL."""

from __future__ import annotations

import json
from typing import Any

#: Largest JSON document accepted, in bytes.
MAX_JSON_BYTES = 8 * 1024
#: Deepest nesting of arrays and objects accepted.
MAX_JSON_DEPTH = 32


class JSONBoundsError(ValueError):
    """The document is too large, too deep or not JSON (the message says)."""


def _depth(text: str) -> int:
    """The deepest nesting of ``[`` and ``{`` outside strings."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def load_bounded_json(
    data: bytes, *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH
) -> Any:
    """Parse ``data`` (UTF-8 JSON) within the bounds; raise
    :class:`JSONBoundsError` otherwise."""
    if len(data) > max_bytes:
        raise JSONBoundsError(f"the JSON document is larger than {max_bytes} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise JSONBoundsError("the JSON document is not UTF-8") from None
    if _depth(text) > max_depth:
        raise JSONBoundsError(f"the JSON document is nested deeper than {max_depth}")
    try:
        return json.loads(text)
    except ValueError:
        raise JSONBoundsError("the body is not a JSON document") from None
