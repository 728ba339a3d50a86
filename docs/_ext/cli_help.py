"""Render ``code`` in the click help texts as code in the CLI reference.

The per-client options' help comes from the settings table, whose texts mark
code Markdown-style with single backticks; sphinx-click hands help text to
reStructuredText, where single backticks mean something else. Doubling them
here keeps one source for ``--help`` and the page.
"""

from __future__ import annotations

import re
from typing import Any

_SINGLE = re.compile(r"(?<!`)`([^`]+)`(?!`)")


def double_backticks(line: str) -> str:
    """Single-backtick code spans become reStructuredText inline literals."""
    return _SINGLE.sub(r"``\1``", line)


def _process(app: Any, ctx: Any, lines: list[str]) -> None:
    lines[:] = [double_backticks(line) for line in lines]


def setup(app: Any) -> dict[str, Any]:
    for part in ("description", "options", "arguments", "epilog"):
        app.connect(f"sphinx-click-process-{part}", _process)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
