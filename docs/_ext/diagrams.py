"""The pictures of "Refresh tokens explained", drawn as SVG from this source.

At build time (``builder-inited``) the Sphinx extension writes each diagram to
``docs/_generated/<name>.svg`` (not committed), where the pages' image
links point. ``python docs/_ext/diagrams.py DIR`` writes them anywhere else.

Plain SVG 1.1 with system sans-serif fonts and a white background, so the
pictures read the same in furo's light and dark modes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
MONO = "DejaVu Sans Mono, Menlo, Consolas, monospace"

LIVE = "#2e7d32"
ROTATED = "#9e9e9e"
REVOKED = "#c62828"
INK = "#212121"
MUTED = "#616161"
ARROW = "#1565c0"


class Svg:
    """A few SVG elements appended in drawing order."""

    def __init__(self, width: int, height: int, title: str) -> None:
        self.width = width
        self.height = height
        self.parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img">',
            f"<title>{escape(title)}</title>",
            "<defs>"
            + "".join(
                f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="9" refY="5" '
                f'markerWidth="8" markerHeight="8" orient="auto-start-reverse">'
                f'<path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>'
                for name, color in (("blue", ARROW), ("red", REVOKED), ("ink", INK))
            )
            + "</defs>",
            f'<rect x="0" y="0" width="{width}" height="{height}" rx="8" '
            f'fill="#ffffff" stroke="#e0e0e0"/>',
        ]

    @staticmethod
    def _attrs(attrs: dict[str, Any]) -> str:
        return "".join(
            f' {key.rstrip("_").replace("_", "-")}="{escape(str(value))}"'
            for key, value in attrs.items()
            if value is not None
        )

    def element(self, tag: str, **attrs: Any) -> None:
        self.parts.append(f"<{tag}{self._attrs(attrs)}/>")

    def text(
        self,
        x: float,
        y: float,
        content: str,
        *,
        size: int = 13,
        anchor: str = "start",
        fill: str = INK,
        weight: str = "normal",
        family: str = FONT,
    ) -> None:
        attrs = self._attrs(
            {
                "x": x,
                "y": y,
                "font_family": family,
                "font_size": size,
                "text_anchor": anchor,
                "fill": fill,
                "font_weight": weight,
            }
        )
        self.parts.append(f"<text{attrs}>{escape(content)}</text>")

    def line(
        self,
        x1: float,
        y1: float,
        x2: float,
        y2: float,
        *,
        stroke: str = INK,
        width: float = 1.5,
        dash: str | None = None,
        marker: str | None = None,
    ) -> None:
        self.element(
            "line",
            x1=x1,
            y1=y1,
            x2=x2,
            y2=y2,
            stroke=stroke,
            stroke_width=width,
            stroke_dasharray=dash,
            marker_end=f"url(#arrow-{marker})" if marker else None,
        )

    def rect(
        self,
        x: float,
        y: float,
        width: float,
        height: float,
        *,
        fill: str,
        stroke: str | None = None,
        rx: float = 3,
        opacity: float | None = None,
    ) -> None:
        self.element(
            "rect",
            x=x,
            y=y,
            width=width,
            height=height,
            rx=rx,
            fill=fill,
            stroke=stroke,
            fill_opacity=opacity,
        )

    def render(self) -> str:
        return "\n".join([*self.parts, "</svg>"]) + "\n"


def token_family() -> str:
    """One grant's refresh tokens over time: three rotations, then the
    rotated-out RT2 comes back and the whole family is revoked."""
    svg = Svg(900, 410, "A token family over time: rotation and reuse detection")
    x0, x1, span = 150.0, 860.0, 9.0

    def at(t: float) -> float:
        return x0 + (x1 - x0) * t / span

    svg.text(20, 32, "One grant = one token family", size=16, weight="bold")
    svg.text(
        20,
        54,
        "Each refresh rotates: the presented token is retired and its successor "
        "is issued in the same transaction.",
        fill=MUTED,
    )
    rotations = [2.0, 4.0, 6.0]
    reuse = 7.4
    issued = [0.0, *rotations]
    top, pitch, bar = 88, 50, 22
    for n, start in enumerate(issued):
        y = top + n * pitch
        svg.text(20, y + 16, f"RT{n + 1}", size=14, weight="bold", family=MONO)
        svg.text(62, y + 16, "refresh token", size=11, fill=MUTED)
        end = rotations[n] if n < len(rotations) else reuse
        svg.rect(at(start), y, at(end) - at(start), bar, fill=LIVE)
        svg.text(at(start) + 6, y + 15, "live", size=11, fill="#ffffff")
        if n < len(rotations):
            # Rotated out: the row stays, so a second use is recognised.
            svg.rect(at(end), y + 7, at(reuse) - at(end), 8, fill=ROTATED, rx=2)
            svg.line(
                at(end),
                y + bar,
                at(end),
                y + pitch - 2,
                stroke=ARROW,
                width=1.5,
                marker="blue",
            )
            svg.text(at(end) + 5, y + bar + 18, f"refresh with RT{n + 1}", size=11)
        # Revoked with the family at the moment of reuse.
        svg.rect(at(reuse), y + 4, at(span) - at(reuse) - 4, 14, fill=REVOKED, rx=2)
        svg.text(at(span) - 8, y + 15, "revoked", size=11, fill="#ffffff", anchor="end")
    rows_bottom = top + len(issued) * pitch - 16
    svg.line(at(reuse), 70, at(reuse), rows_bottom + 8, stroke=REVOKED, width=2.5)
    # Between the rows of RT1 and RT2, pointing at RT2's row.
    svg.line(
        at(reuse) - 40,
        top + 34,
        at(reuse) - 4,
        top + pitch + 6,
        stroke=REVOKED,
        marker="red",
    )
    svg.text(
        at(reuse) - 44,
        top + 40,
        "RT2 presented again",
        fill=REVOKED,
        anchor="end",
        weight="bold",
    )

    axis = rows_bottom + 28
    svg.line(x0, axis, x1 + 10, axis, marker="ink")
    svg.text(x1 + 12, axis + 18, "time", size=11, fill=MUTED, anchor="end")
    for t, label in [(0.0, "grant starts"), *[(t, "refresh") for t in rotations]]:
        svg.line(at(t), axis - 5, at(t), axis + 5)
        svg.text(at(t), axis + 20, label, size=11, anchor="middle", fill=MUTED)
    svg.line(at(reuse), axis - 5, at(reuse), axis + 5, stroke=REVOKED, width=2.5)
    svg.text(at(reuse), axis + 20, "reuse detected", size=11, anchor="middle")

    notes = axis + 50
    svg.text(
        20,
        notes,
        "Reuse detection (RFC 9700 §4.14.2): a rotated-out token can only come "
        "from a copy — a thief's or a lost retry's —",
    )
    svg.text(
        20,
        notes + 18,
        "so every refresh and access token of the family is revoked, the live "
        "RT4 included. The client signs in again.",
    )
    legend = notes + 44
    for x, color, label, height in (
        (20, LIVE, "live (exactly one per family)", 14),
        (260, ROTATED, "rotated out: kept to recognise reuse", 8),
        (560, REVOKED, "revoked", 14),
    ):
        svg.rect(x, legend - 11 + (14 - height) / 2, 28, height, fill=color, rx=2)
        svg.text(x + 36, legend, label, size=12)
    return svg.render()


def concurrent_refresh() -> str:
    """Two requests present the same refresh token at once; the conditional
    UPDATE lets exactly one of them rotate it."""
    svg = Svg(900, 580, "Two concurrent refreshes with one token: one UPDATE wins")
    a, db, b = 190.0, 450.0, 710.0
    svg.text(20, 32, "Two requests, one refresh token RT1", size=16, weight="bold")
    svg.text(
        20,
        54,
        "Separate workers, processes or instances: no lock in Python, the "
        "database decides.",
        fill=MUTED,
    )
    for x, name in (
        (a, "Request A (worker 1)"),
        (db, "Database"),
        (b, "Request B (worker 2)"),
    ):
        svg.rect(x - 95, 72, 190, 34, fill="#e3f2fd", stroke=ARROW, rx=6)
        svg.text(x, 94, name, anchor="middle", weight="bold")
        svg.line(
            x, 106, x, 440 if x == a else 410, stroke="#90a4ae", width=1.2, dash="5,4"
        )

    def message(
        y: float,
        start: float,
        end: float,
        label: str,
        *,
        reply: bool = False,
        color: str = ARROW,
        marker: str = "blue",
        mono: bool = True,
    ) -> None:
        svg.line(
            start, y, end, y, stroke=color, dash="6,4" if reply else None, marker=marker
        )
        middle = (start + end) / 2
        svg.text(
            middle,
            y - 6,
            label,
            size=11,
            anchor="middle",
            family=MONO if mono else FONT,
            fill=color if color != ARROW else INK,
        )

    message(140, a, db, "SELECT … WHERE digest = :d")
    message(140, b, db, "SELECT … WHERE digest = :d")
    message(170, db, a, "RT1: live", reply=True, mono=False)
    message(170, db, b, "RT1: live", reply=True, mono=False)
    message(210, a, db, "UPDATE … SET rotated_at = :now")
    svg.text(
        (a + db) / 2,
        226,
        "WHERE id = :rt1 AND rotated_at IS NULL",
        size=11,
        anchor="middle",
        family=MONO,
    )
    svg.text(
        (a + db) / 2,
        240,
        "AND revoked_at IS NULL",
        size=11,
        anchor="middle",
        family=MONO,
    )
    message(250, b, db, "the same UPDATE")
    svg.rect(db + 14, 262, 226, 52, fill="#fff8e1", stroke="#f9a825", rx=4)
    svg.text(db + 22, 280, "B's UPDATE waits for A's", size=12)
    svg.text(db + 22, 296, "transaction (PostgreSQL: row lock;", size=12)
    svg.text(db + 22, 310, "SQLite: the write lock)", size=12)
    message(280, db, a, "1 row updated", reply=True, mono=False)
    message(320, a, db, "INSERT RT2 + access token; COMMIT")
    message(360, db, b, "0 rows updated: RT1 is no longer live", reply=True, mono=False)
    message(395, b, db, "ROLLBACK (nothing written)")

    svg.line(a, 440, 20, 440, stroke=LIVE, width=2, marker="ink")
    svg.text(28, 462, "200: new access token + RT2", size=12, fill=LIVE, weight="bold")
    svg.text(28, 480, "RT2 is the family's only live token", size=11, fill=MUTED)

    svg.rect(b - 160, 420, 330, 142, fill="#fafafa", stroke="#bdbdbd", rx=4)
    svg.text(
        b - 140, 440, "B's answer depends on the grace period:", size=12, weight="bold"
    )
    svg.text(
        b - 140, 466, "0 s (default, strict)", size=12, weight="bold", fill=REVOKED
    )
    svg.text(b - 150, 484, "400 invalid_grant, counted as reuse:", size=12)
    svg.text(b - 150, 500, "the family is revoked, RT2 included", size=12)
    svg.text(b - 150, 526, "> 0 s (retry-safe)", size=12, weight="bold", fill=LIVE)
    svg.text(b - 150, 544, "200 with A's identical response (AT, RT2):", size=12)
    svg.text(b - 150, 558, "still one live refresh token", size=12)
    return svg.render()


#: Every diagram by file name (without ``.svg``).
DIAGRAMS: dict[str, Callable[[], str]] = {
    "token-family": token_family,
    "concurrent-refresh": concurrent_refresh,
}


def write_all(directory: Path) -> list[Path]:
    """Write every diagram into ``directory``; files whose content did not
    change are left alone (so Sphinx sees nothing new)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in DIAGRAMS.items():
        path = directory / f"{name}.svg"
        content = draw()
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def _on_builder_inited(app: Any) -> None:
    write_all(Path(app.srcdir) / "_generated")


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", _on_builder_inited)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    for written_path in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else ".")):
        print(written_path)
