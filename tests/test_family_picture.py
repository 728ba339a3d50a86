"""The example app's picture of a token family (``example_app/family_picture.py``):
a pure function from a grant's history to SVG, with a text alternative."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from example_app.family_picture import MAX_ROWS, family_svg, family_text
from example_app.family_timeline import MIN_SEGMENT, RIGHT
from flask_refreshgrant import GrantHistory, GrantRecord
from flask_refreshgrant.records import GrantStatus, RefreshTokenRecord

from .conftest import START

SVG = "{http://www.w3.org/2000/svg}"
DAY = 86400


def grant(
    status: GrantStatus = "active",
    expires_at: int | None = START + 20 + DAY,
    refreshes: int = 2,
    name: str | None = "Demo client",
) -> GrantRecord:
    return GrantRecord(
        grant_id="f" * 32,
        client_id="c" * 32,
        client_name=name,
        user_id="1",
        scope="PRODUCTION",
        created_at=START,
        last_refreshed_at=START + 20 if refreshes else None,
        refresh_count=refreshes,
        expires_at=expires_at,
        status=status,
    )


def rotating(
    expires_at: int | None = START + 20 + DAY, name: str | None = "Demo client"
) -> GrantHistory:
    """Issued at START, refreshed at +8 and +20: the live token is #3."""
    return GrantHistory(
        grant=grant(expires_at=expires_at, name=name),
        tokens=(
            RefreshTokenRecord(START, START + DAY, START + 8, None, "rotated"),
            RefreshTokenRecord(START + 8, START + 8 + DAY, START + 20, None, "rotated"),
            RefreshTokenRecord(START + 20, START + 20 + DAY, None, None, "live"),
        ),
        revoked_at=None,
        revoked_reason=None,
    )


def reused() -> GrantHistory:
    """The first token came back at +25: the family was revoked."""
    return GrantHistory(
        grant=grant(status="revoked"),
        tokens=(
            RefreshTokenRecord(START, START + DAY, START + 8, START + 25, "rotated"),
            RefreshTokenRecord(
                START + 8, START + 8 + DAY, START + 20, START + 25, "rotated"
            ),
            RefreshTokenRecord(
                START + 20, START + 20 + DAY, None, START + 25, "revoked"
            ),
        ),
        revoked_at=START + 25,
        revoked_reason="reuse_detected",
    )


def parse(history: GrantHistory, now: int) -> ET.Element:
    """The SVG, parsed: it must be well-formed XML."""
    return ET.fromstring(str(family_svg(history, now=now)))  # noqa: S314 (our own output)


def with_class(root: ET.Element, css: str) -> list[ET.Element]:
    return [e for e in root.iter() if css in (e.get("class") or "").split()]


def segments(root: ET.Element) -> list[ET.Element]:
    return with_class(root, "segment")


def text_of(elements: list[ET.Element]) -> list[str]:
    return [e.text or "" for e in elements]


def test_each_refresh_token_is_a_segment_in_issue_order() -> None:
    root = parse(rotating(), now=START + 30)
    found = segments(root)
    assert [s.get("data-status") for s in found] == ["rotated", "rotated", "live"]
    assert [s.get("data-index") for s in found] == ["1", "2", "3"]
    starts = [float(s.get("x") or 0) for s in found]
    ends = [
        start + float(s.get("width") or 0)
        for start, s in zip(starts, found, strict=True)
    ]
    assert starts == sorted(starts)
    # Each token starts where its predecessor was rotated out.
    assert ends[0] == starts[1] and ends[1] == starts[2]
    assert len(with_class(root, "rotation")) == 2
    colours = {s.get("data-status"): s.get("fill") for s in found}
    assert colours["rotated"] != colours["live"]
    tooltip = found[1].find(f"{SVG}title")
    assert tooltip is not None
    assert tooltip.text == "Refresh token #2: issued 08:00:08, rotated 08:00:20"


def test_the_live_token_runs_on_to_its_expiry_horizon() -> None:
    root = parse(rotating(), now=START + 30)
    assert text_of(with_class(root, "horizon-label")) == [
        "expires 2027-01-16 08:00:20 UTC"
    ]
    (horizon,) = with_class(root, "horizon")
    assert float(horizon.get("x1") or 0) == RIGHT
    assert with_class(root, "axis-break")  # a day away: behind a break
    assert with_class(root, "future")
    assert text_of(with_class(root, "now-marker-label")) == ["now"]
    assert not with_class(root, "revocation-marker")


def test_a_near_horizon_is_drawn_to_scale() -> None:
    history = GrantHistory(
        grant=grant(expires_at=START + 100, refreshes=1),
        tokens=(
            RefreshTokenRecord(START, START + 60, START + 40, None, "rotated"),
            RefreshTokenRecord(START + 40, START + 100, None, None, "live"),
        ),
        revoked_at=None,
        revoked_reason=None,
    )
    root = parse(history, now=START + 50)
    assert not with_class(root, "axis-break")
    assert text_of(with_class(root, "horizon-label")) == ["expires 08:01:40"]
    (now,) = with_class(root, "now-marker")
    assert float(now.get("x1") or 0) < RIGHT


def test_a_grant_that_never_expires() -> None:
    history = rotating(expires_at=None)
    root = parse(history, now=START + 30)
    assert text_of(with_class(root, "horizon-label")) == ["never expires"]


def test_reuse_detection_is_marked() -> None:
    root = parse(reused(), now=START + 3600)
    assert [s.get("data-status") for s in segments(root)] == [
        "rotated",
        "rotated",
        "revoked",
    ]
    (marker,) = with_class(root, "reuse")
    assert "revocation-marker" in (marker.get("class") or "")
    assert text_of(with_class(root, "revocation-marker-label")) == ["⚠ reuse detected"]
    # A revoked grant has no horizon and no "now".
    assert not with_class(root, "horizon") and not with_class(root, "now-marker")
    desc = root.find(f"{SVG}desc")
    assert desc is not None and "reuse detected" in (desc.text or "")


def test_a_revocation_by_the_user_is_marked_without_reuse() -> None:
    history = GrantHistory(
        grant=grant(status="revoked", refreshes=0),
        tokens=(RefreshTokenRecord(START, START + DAY, None, START + 5, "revoked"),),
        revoked_at=START + 5,
        revoked_reason="user",
    )
    root = parse(history, now=START + 10)
    assert not with_class(root, "reuse")
    assert text_of(with_class(root, "revocation-marker-label")) == [
        "✕ revoked by the user"
    ]


def test_an_expired_grant_shows_its_expiry() -> None:
    history = GrantHistory(
        grant=grant(status="expired", expires_at=START + 60, refreshes=0),
        tokens=(RefreshTokenRecord(START, START + 60, None, None, "expired"),),
        revoked_at=None,
        revoked_reason=None,
    )
    root = parse(history, now=START + 500)
    assert [s.get("data-status") for s in segments(root)] == ["expired"]
    assert text_of(with_class(root, "expiry-marker-label")) == ["expired"]


def test_long_families_draw_the_latest_tokens() -> None:
    count = MAX_ROWS + 5
    tokens = [
        RefreshTokenRecord(
            START + 10 * i, START + 10 * i + DAY, START + 10 * (i + 1), None, "rotated"
        )
        for i in range(count - 1)
    ]
    tokens.append(
        RefreshTokenRecord(START + 10 * (count - 1), None, None, None, "live")
    )
    history = GrantHistory(grant(expires_at=None), tuple(tokens), None, None)
    root = parse(history, now=START + 10 * count)
    assert [s.get("data-index") for s in segments(root)] == [
        str(i) for i in range(6, count + 1)
    ]
    assert text_of(with_class(root, "hidden-tokens")) == [
        "… 5 earlier refresh tokens not drawn"
    ]
    assert len(family_text(history)) == count  # the text tells all


def test_it_is_accessible_and_escapes_what_it_shows() -> None:
    history = rotating(name='<script>alert("x")</script> & co')
    svg = str(family_svg(history, now=START + 30, element_id="family-1"))
    assert "<script>" not in svg
    root = ET.fromstring(svg)  # noqa: S314 (our own output)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "family-1-title family-1-desc"
    title = root.find(f"{SVG}title")
    assert title is not None and title.get("id") == "family-1-title"
    assert title.text == 'Token family of <script>alert("x")</script> & co'


def test_the_text_alternative_tells_the_same_story() -> None:
    assert family_text(rotating()) == [
        "Refresh token 1: issued 2027-01-15 08:00:00 UTC, rotated 2027-01-15 08:00:08 UTC.",
        "Refresh token 2: issued 2027-01-15 08:00:08 UTC, rotated 2027-01-15 08:00:20 UTC.",
        "Refresh token 3: issued 2027-01-15 08:00:20 UTC, live, expires 2027-01-16 08:00:20 UTC.",
    ]
    assert family_text(reused())[-1] == (
        "The family was revoked 2027-01-15 08:00:25 UTC: reuse detected: family revoked."
    )


def test_the_picture_is_a_pure_function() -> None:
    assert family_svg(reused(), now=START + 99) == family_svg(reused(), now=START + 99)


def test_tokens_rotated_within_a_second_stay_visible_and_in_order() -> None:
    """Times are whole seconds: two refreshes in the second of the grant
    still give three distinct segments, left to right, drawn evenly and
    said to be not to scale; "now" is where the live token has got to."""
    history = GrantHistory(
        grant=grant(expires_at=START + DAY),
        tokens=(
            RefreshTokenRecord(START, START + DAY, START, None, "rotated"),
            RefreshTokenRecord(START, START + DAY, START, None, "rotated"),
            RefreshTokenRecord(START, START + DAY, None, None, "live"),
        ),
        revoked_at=None,
        revoked_reason=None,
    )
    root = parse(history, now=START + 1)
    found = segments(root)
    starts = [float(s.get("x") or 0) for s in found]
    widths = [float(s.get("width") or 0) for s in found]
    assert starts == sorted(set(starts))
    assert min(widths) >= MIN_SEGMENT
    assert starts[1] == starts[0] + widths[0]
    assert widths[0] == widths[1] == widths[2]
    assert text_of(with_class(root, "not-to-scale")) == [
        "within seconds: in order, not to scale"
    ]
    (now,) = with_class(root, "now-marker")
    assert float(now.get("x1") or 0) == pytest.approx(starts[2] + widths[2])
    # Ten seconds apart: to scale.
    assert not with_class(parse(rotating(), now=START + 30), "not-to-scale")
