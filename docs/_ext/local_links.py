"""Check, after an HTML build, that every link inside the site resolves.

``-n`` (nitpicky) already makes Sphinx warn about cross-references it cannot
resolve, and MyST warns about Markdown links to missing pages or anchors.
This catches the rest — raw HTML, links that extensions (sphinx-click, the
theme) write, images — by reading the built pages: each ``href`` or ``src``
without a scheme must name a file of the build, and its ``#fragment`` an
``id`` in that file. A broken one is a Sphinx warning, so ``-W`` fails the
build. External links are never fetched (CI has no network).
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sphinx.util import logging

logger = logging.getLogger(__name__)


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in {"id", "name"} and not (tag == "meta" and name == "name"):
                self.ids.add(value)
            elif (name == "href" and tag in {"a", "link"}) or (
                name == "src" and tag in {"img", "script"}
            ):
                self.links.append(value)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def broken_links(outdir: Path) -> list[tuple[str, str]]:
    """``(page, link)`` for every internal link of the site that does not
    resolve."""
    outdir = outdir.resolve()
    pages = {path: _parse(path) for path in sorted(outdir.rglob("*.html"))}
    broken = []
    for path, page in pages.items():
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc:
                continue  # external (http:, mailto:, data:): not fetched
            target = (
                (path.parent / unquote(parts.path)).resolve() if parts.path else path
            )
            if not target.is_file():
                broken.append((str(path.relative_to(outdir)), link))
                continue
            if parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append((str(path.relative_to(outdir)), link))
    return broken


def _on_build_finished(app: Any, exception: BaseException | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for page, link in broken_links(Path(app.outdir)):
        logger.warning("broken internal link in %s: %s", page, link)


def setup(app: Any) -> dict[str, Any]:
    app.connect("build-finished", _on_build_finished)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
