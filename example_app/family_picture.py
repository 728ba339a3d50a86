"""A picture of one grant's token family over time, as server-rendered SVG.

:func:`family_svg` is a pure function of a :class:`~flask_refreshgrant.GrantHistory`
and the current time: every refresh token is a segment on its own row, from
its issue to its rotation, expiry or revocation, coloured by status; the
rotations link each token to its successor, a revocation (reuse detection
included) is a red line across the family, and the live token runs on to
its expiry horizon. Times to the left of the horizon are to scale (tokens
that came within fewer seconds than there are of them are drawn evenly, in
order, and the axis says so); a horizon far away (or none) sits behind an
axis break at the right edge.
:func:`family_text` is the same story in sentences, the picture's text
alternative. Nothing here needs JavaScript.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from flask_refreshgrant import GrantHistory
from flask_refreshgrant.records import RefreshTokenRecord

from .family_timeline import (
    AXIS,
    BAR,
    LEFT,
    ROW,
    TOP,
    WIDTH,
    TimeScale,
    clock_time,
    full_time,
    spans,
    token_end,
)

#: Colours by token status (also the legend's).
COLOURS = {
    "live": "#2e7d32",
    "rotated": "#5b7fa6",
    "expired": "#b7791f",
    "revoked": "#b3261e",
}
REASONS = {
    "revocation": "revoked by the app (RFC 7009)",
    "reuse_detected": "reuse detected: family revoked",
    "cli": "revoked by an operator",
    "user": "revoked by the user",
    "client_deleted": "client deleted",
}
#: At most this many rows; older tokens are summed up in one line.
MAX_ROWS = 10


def _attrs(**values: object) -> str:
    return " ".join(
        f'{name.rstrip("_").replace("_", "-")}="{escape(str(value))}"'
        for name, value in values.items()
    )


def _element(tag: str, text: str = "", **values: object) -> str:
    body = f"{escape(text)}" if text else ""
    return f"<{tag} {_attrs(**values)}>{body}</{tag}>"


def family_text(history: GrantHistory) -> list[str]:
    """The picture in sentences, one per refresh token, then the family's end."""
    lines = []
    for number, token in enumerate(history.tokens, start=1):
        line = f"Refresh token {number}: issued {full_time(token.issued_at)}"
        end = token_end(token)
        if token.status == "live":
            expires = token.expires_at
            line += ", live, " + (
                "never expires" if expires is None else f"expires {full_time(expires)}"
            )
        elif end is not None:
            line += f", {token.status} {full_time(end)}"
        lines.append(line + ".")
    if history.revoked_at is not None and history.revoked_reason is not None:
        reason = REASONS.get(history.revoked_reason, history.revoked_reason)
        lines.append(
            f"The family was revoked {full_time(history.revoked_at)}: {reason}."
        )
    return lines


def _summary(history: GrantHistory) -> str:
    grant = history.grant
    count = len(history.tokens)
    return (
        f"{count} refresh token{'s' if count != 1 else ''} since "
        f"{full_time(grant.created_at)}, {grant.refresh_count} refresh"
        f"{'es' if grant.refresh_count != 1 else ''}; the grant is {grant.status}."
    )


def family_svg(
    history: GrantHistory,
    *,
    now: int,
    element_id: str = "family",
    width: int = WIDTH,
) -> Markup:
    """The SVG picture of ``history`` at ``now`` (see the module docstring),
    ``width`` pixels wide (at most 680, at least 320).

    ``element_id`` prefixes the ids of the title and description, so that
    several pictures can share a page. A narrow picture (a phone's) puts the
    axis's "not to scale" note on a line of its own.
    """
    tokens: Sequence[RefreshTokenRecord] = history.tokens
    hidden = max(0, len(tokens) - MAX_ROWS)
    shown = list(enumerate(tokens, start=1))[hidden:]
    start = shown[0][1].issued_at if shown else history.grant.created_at
    scale = TimeScale.for_history(history, start, now, len(shown), right=width - 20)
    narrow = width < WIDTH
    rows_top = TOP + (ROW if hidden else 0)
    bottom = rows_top + ROW * len(shown)
    note_line = 14 if narrow and scale.ordinal else 0
    height = bottom + AXIS + note_line
    title_id, desc_id = f"{element_id}-title", f"{element_id}-desc"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" {_attrs(width=width, height=height)} '
        f'viewBox="0 0 {width} {height}" role="img" class="family-picture" '
        f'aria-labelledby="{escape(title_id)} {escape(desc_id)}" '
        'font-family="DejaVu Sans, sans-serif" font-size="11">',
        _element(
            "title",
            f"Token family of {history.grant.client_name or history.grant.client_id}",
            id=title_id,
        ),
        _element(
            "desc", " ".join([_summary(history), *family_text(history)]), id=desc_id
        ),
        _element("rect", x=0, y=0, width=width, height=height, fill="#fbfcfe"),
    ]
    if hidden:
        parts.append(
            _element(
                "text",
                f"… {hidden} earlier refresh token{'s' if hidden != 1 else ''} not drawn",
                x=LEFT,
                y=TOP + ROW / 2 + 4,
                fill="#5b6778",
                class_="hidden-tokens",
            )
        )
    segments = spans([token for _, token in shown], scale, now)
    parts.extend(_rows(shown, segments, scale, rows_top))
    parts.extend(_markers(history, scale, segments, bottom))
    parts.extend(_axis(scale, bottom, start, note_below=narrow))
    parts.extend(_legend(bottom + note_line))
    parts.append("</svg>")
    # Every text and attribute value above went through escape().
    return Markup("".join(parts))  # noqa: S704


def _rows(
    shown: list[tuple[int, RefreshTokenRecord]],
    segments: list[tuple[float, float]],
    scale: TimeScale,
    top: int,
) -> list[str]:
    parts: list[str] = []
    for row, ((number, token), (x0, x1)) in enumerate(
        zip(shown, segments, strict=True)
    ):
        y = top + row * ROW + (ROW - BAR) / 2
        end = token_end(token)
        colour = COLOURS[token.status]
        parts.append(_element("text", f"#{number}", x=8, y=y + BAR - 2, fill="#1d2430"))
        label = f"Refresh token #{number}: issued {clock_time(token.issued_at)}, " + (
            f"{token.status} {clock_time(end)}" if end is not None else "live"
        )
        parts.append(
            f"<rect {_attrs(x=f'{x0:.1f}', y=f'{y:.1f}', width=f'{x1 - x0:.1f}', height=BAR, rx=2, fill=colour, class_='segment', data_status=token.status, data_index=number)}>"
            f"{_element('title', label)}</rect>"
        )
        if token.status == "live":
            # Still usable from now on until the horizon: a paler tail.
            tail_end = scale.x(token.expires_at)
            if tail_end > x1:
                parts.append(
                    _element(
                        "rect",
                        x=f"{x1:.1f}",
                        y=f"{y + 3:.1f}",
                        width=f"{tail_end - x1:.1f}",
                        height=BAR - 6,
                        fill=colour,
                        opacity="0.35",
                        class_="future",
                    )
                )
        if token.status == "rotated" and row + 1 < len(shown):
            parts.append(
                _element(
                    "line",
                    x1=f"{x1:.1f}",
                    y1=f"{y + BAR:.1f}",
                    x2=f"{x1:.1f}",
                    y2=f"{y + ROW:.1f}",
                    stroke=COLOURS["rotated"],
                    stroke_dasharray="2 2",
                    class_="rotation",
                )
            )
    return parts


def _vertical(
    x: float,
    top: int,
    bottom: int,
    colour: str,
    label: str,
    css: str,
    anchor: str = "middle",
) -> list[str]:
    return [
        _element(
            "line",
            x1=f"{x:.1f}",
            y1=top,
            x2=f"{x:.1f}",
            y2=bottom,
            stroke=colour,
            stroke_width=1.5,
            stroke_dasharray="4 3",
            class_=css,
        ),
        _element(
            "text",
            label,
            x=f"{x:.1f}",
            y=top - 4,
            fill=colour,
            text_anchor=anchor,
            class_=" ".join(f"{name}-label" for name in css.split()),
        ),
    ]


def _markers(
    history: GrantHistory,
    scale: TimeScale,
    segments: list[tuple[float, float]],
    bottom: int,
) -> list[str]:
    """Revocation, now and the horizon (or the expiry) as vertical lines; a
    marker that ends the last segment sits exactly at its end."""
    parts: list[str] = []
    last = history.tokens[-1].status if history.tokens else None
    last_end = segments[-1][1] if segments else float(LEFT)
    if history.revoked_at is not None:
        reason = history.revoked_reason or "revocation"
        label = (
            "⚠ reuse detected"
            if reason == "reuse_detected"
            else "✕ " + REASONS.get(reason, reason)
        )
        x = last_end if last == "revoked" else scale.x(history.revoked_at)
        css = "revocation-marker" + (" reuse" if reason == "reuse_detected" else "")
        anchor = _anchor(x, scale.right)
        parts += _vertical(x, 14, bottom, COLOURS["revoked"], label, css, anchor)
    if history.grant.status == "active":
        x_now = last_end
        parts += _vertical(
            x_now,
            28,
            bottom,
            "#5b6778",
            "now",
            "now-marker",
            _anchor(x_now, scale.right),
        )
        horizon = scale.horizon
        if horizon is None:
            label = "never expires"
        elif scale.far:
            label = f"expires {full_time(horizon)}"
        else:
            label = f"expires {clock_time(horizon)}"
        x = scale.x(horizon)
        parts += _vertical(x, 14, bottom, COLOURS["live"], label, "horizon", "end")
    elif history.grant.status == "expired" and history.grant.expires_at is not None:
        x = last_end if last == "expired" else scale.x(history.grant.expires_at)
        parts += _vertical(
            x,
            14,
            bottom,
            COLOURS["expired"],
            "expired",
            "expiry-marker",
            _anchor(x, scale.right),
        )
    return parts


def _legend(bottom: int) -> list[str]:
    parts: list[str] = []
    x = float(LEFT)
    y = bottom + 38
    for status, colour in COLOURS.items():
        parts.append(
            _element("rect", x=f"{x:.1f}", y=y, width=10, height=10, rx=2, fill=colour)
        )
        parts.append(
            _element("text", status, x=f"{x + 14:.1f}", y=y + 9, fill="#1d2430")
        )
        x += 24 + 7 * len(status)
    return parts


def _anchor(x: float, right: int) -> str:
    if x < LEFT + 60:
        return "start"
    if x > right - 60:
        return "end"
    return "middle"


def _axis(
    scale: TimeScale, bottom: int, start: int, *, note_below: bool = False
) -> list[str]:
    y = bottom + 6
    parts = [
        _element(
            "line", x1=LEFT, y1=y, x2=f"{scale.near_right:.1f}", y2=y, stroke="#a9b4c2"
        ),
        _element(
            "text",
            clock_time(start),
            x=LEFT,
            y=y + 14,
            fill="#5b6778",
            text_anchor="start",
        ),
    ]
    if scale.far:
        mid = scale.near_right
        parts += [
            _element(
                "text",
                "//",
                x=f"{mid + 8:.1f}",
                y=y + 4,
                fill="#a9b4c2",
                class_="axis-break",
            ),
            _element(
                "line",
                x1=f"{mid + 22:.1f}",
                y1=y,
                x2=scale.right,
                y2=y,
                stroke="#a9b4c2",
            ),
        ]
    if scale.ordinal:
        parts.append(
            _element(
                "text",
                "within seconds: in order, not to scale",
                x=f"{(LEFT + scale.near_right) / 2:.1f}",
                y=y + (28 if note_below else 14),
                fill="#5b6778",
                text_anchor="middle",
                class_="not-to-scale",
            )
        )
    parts.append(
        _element(
            "text",
            clock_time(scale.near_end) + " UTC",
            x=f"{scale.near_right:.1f}",
            y=y + 14,
            fill="#5b6778",
            text_anchor="end",
        )
    )
    return parts
