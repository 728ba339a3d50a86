"""The geometry of a token family's picture (:mod:`.family_picture`): where
a time falls on the plot, and where each refresh token's segment starts and
ends. Pure arithmetic, no SVG."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timezone

from flask_refreshgrant import GrantHistory
from flask_refreshgrant.records import RefreshTokenRecord

WIDTH = 680
#: The picture a phone shows (:func:`.family_picture.family_svg` draws both;
#: the page shows the one that fits): drawn 1:1 on a 390 px screen, its
#: labels keep their size instead of shrinking to half of it.
NARROW_WIDTH = 340
LEFT = 40  # row labels
RIGHT = WIDTH - 20
TOP = 40  # marker labels
ROW = 22
BAR = 12
AXIS = 58  # the axis, its labels and the legend
#: The narrowest a segment is drawn, in pixels.
MIN_SEGMENT = 14
#: Share of the plot width drawn to scale when the horizon is far away.
NEAR_SHARE = 0.78


def clock_time(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%H:%M:%S")


def full_time(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def token_end(token: RefreshTokenRecord) -> int | None:
    """When ``token``'s segment ends; ``None`` for the live token."""
    return {
        "rotated": token.rotated_at,
        "revoked": token.revoked_at,
        "expired": token.expires_at,
    }.get(token.status)


@dataclasses.dataclass(frozen=True)
class TimeScale:
    """Time to x: ``start``..``near_end`` to scale over the first part of
    the plot; with a far horizon, that lies at the right edge past a break.

    ``ordinal``: the drawn tokens came within fewer seconds than there are
    of them (times are whole seconds), so they are drawn evenly, in order,
    not to scale.
    """

    start: int
    near_end: int
    horizon: int | None
    far: bool
    ordinal: bool = False
    #: The plot's right edge (the picture's width less a margin).
    right: int = RIGHT

    @classmethod
    def for_history(
        cls, history: GrantHistory, start: int, now: int, rows: int, right: int = RIGHT
    ) -> TimeScale:
        grant = history.grant
        active = grant.status == "active"
        ends = [
            t for token in history.tokens for t in (token.issued_at, token_end(token))
        ]
        if history.revoked_at is not None:
            ends.append(history.revoked_at)
        last = max(t for t in ends if t is not None)
        horizon = grant.expires_at if active else None
        near_end = max(now, last) if active else last
        if near_end - start < rows:
            return cls(start, near_end, horizon, far=active, ordinal=True, right=right)
        far = active and (horizon is None or horizon - start > (near_end - start) * 2.5)
        if not far and horizon is not None:
            near_end = max(near_end, horizon)
        return cls(start, near_end, horizon, far, right=right)

    @property
    def near_right(self) -> float:
        return LEFT + (self.right - LEFT) * (NEAR_SHARE if self.far else 1.0)

    def x(self, epoch: int | None) -> float:
        if epoch is None or (self.far and epoch > self.near_end):
            return self.right
        if epoch >= self.near_end:
            return self.near_right
        if epoch <= self.start:
            return float(LEFT)
        share = (epoch - self.start) / (self.near_end - self.start)
        return LEFT + (self.near_right - LEFT) * share


def spans(
    tokens: Sequence[RefreshTokenRecord], scale: TimeScale, now: int
) -> list[tuple[float, float]]:
    """Where each token's segment starts and ends: to scale, except that
    every segment is at least :data:`MIN_SEGMENT` wide (tokens rotated within
    a second stay visible and in order) and a rotated token ends where its
    successor starts. The order of events is kept; the scale bends only as
    much as that needs. On an ordinal scale, tokens share the width evenly."""
    if scale.ordinal:
        step = (scale.near_right - LEFT) / max(len(tokens), 1)
        starts = [LEFT + index * step for index in range(len(tokens))]
    else:
        starts = []
        for token in tokens:
            x = scale.x(token.issued_at)
            starts.append(x if not starts else max(x, starts[-1] + MIN_SEGMENT))
        # Pushed past the right end of the scale: pull back, keeping the gaps.
        limit = scale.near_right - MIN_SEGMENT
        for index in reversed(range(len(starts))):
            starts[index] = min(starts[index], limit)
            limit = starts[index] - MIN_SEGMENT
    spans = []
    for index, token in enumerate(tokens):
        end = token_end(token)
        x1 = scale.x(end if end is not None else now)
        if token.status == "rotated" and index + 1 < len(tokens):
            x1 = starts[index + 1]
        spans.append((starts[index], max(x1, starts[index] + MIN_SEGMENT)))
    return spans
