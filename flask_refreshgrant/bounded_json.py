"""JSON read with bounds: refused when too large or nested too deep,
*before* it is parsed (SPEC §13).

Python's :func:`json.loads` recurses once per level of nesting, so a small
document nested a thousand deep raises :class:`RecursionError` (a 500);
:func:`loads` counts the nesting first, without recursion, and refuses
anything beyond :data:`MAX_DEPTH` levels or :data:`MAX_BYTES` bytes with
:class:`JSONLimitError`, which a caller turns into its endpoint's error
(``invalid_dpop_proof``, ``invalid_client_metadata``). It imports nothing of
the package, so any module may use it.
"""

from __future__ import annotations

import json
from typing import Any

#: Deepest nesting of arrays and objects accepted (SPEC §13).
MAX_DEPTH = 32
#: Largest document accepted, in bytes of its UTF-8 encoding (SPEC §13).
MAX_BYTES = 8192

_QUOTE, _BACKSLASH = 0x22, 0x5C
_OPEN, _CLOSE = frozenset(b"[{"), frozenset(b"]}")


class JSONLimitError(ValueError):
    """A JSON document over the size or depth bound, or not JSON at all; the
    message says which (ASCII, no quotes: fit for an ``error_description``)."""


def nesting_depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects in ``data`` (brackets inside
    strings do not count), counted without recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == _BACKSLASH:
                escaped = True
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPEN:
            depth += 1
            deepest = max(deepest, depth)
        elif byte in _CLOSE:
            depth -= 1
    return deepest


def check(
    data: bytes, *, max_depth: int = MAX_DEPTH, max_bytes: int = MAX_BYTES
) -> None:
    """Refuse ``data`` if it is larger than ``max_bytes`` or nested deeper
    than ``max_depth``.

    :raises JSONLimitError: it is.
    """
    if len(data) > max_bytes:
        raise JSONLimitError(f"The JSON is larger than {max_bytes} bytes.")
    # Nothing nests deeper than it has opening brackets: most documents
    # need no scan.
    brackets = data.count(b"[") + data.count(b"{")
    if brackets > max_depth and nesting_depth(data) > max_depth:
        raise JSONLimitError(f"The JSON is nested deeper than {max_depth} levels.")


def loads(
    data: bytes | str, *, max_depth: int = MAX_DEPTH, max_bytes: int = MAX_BYTES
) -> Any:
    """:func:`json.loads` of ``data`` once :func:`check` accepts it.

    :raises JSONLimitError: too large, too deep, or not JSON (UTF-8).
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    check(raw, max_depth=max_depth, max_bytes=max_bytes)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise JSONLimitError("The body is not JSON.") from error
