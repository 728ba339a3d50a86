"""The generated parts of the documentation: the settings table lists every
setting, the API page every public name, the diagrams are well-formed SVG,
and the link check of the built site finds a broken link.

The full build (``scripts/docs``, and ``scripts/test`` with ``-W``) renders
them; these tests check what each generator produces, quickly.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import cli_help
import diagrams
import local_links
import pytest
from blinker import Signal
from settings_table import setting_rows

import flask_refreshgrant
from flask_refreshgrant import signals
from flask_refreshgrant.coercion import Flag, Seconds
from flask_refreshgrant.config import SETTINGS, Setting

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_the_configuration_table_lists_every_setting_in_table_order() -> None:
    rows = setting_rows(SETTINGS)
    assert [row.key for row in rows] == [f"`{s.key}`" for s in SETTINGS]
    by_key = {row.key: row for row in rows}
    validity = by_key["`OAUTH2_REFRESH_TOKEN_VALIDITY_PERIOD`"]
    assert validity.default == "`86400`"
    assert validity.unit == "seconds"
    assert "`refresh_token_validity_period` column" in validity.per_client
    assert "--refresh-token-validity-period" in validity.per_client
    renew = by_key["`OAUTH2_RENEW_REFRESH_TOKEN_FOR_REFRESH_GRANT`"]
    assert "--renew/--no-renew" in renew.per_client
    assert by_key["`OAUTH2_URL_PREFIX`"].default == '`"/oauth2"`'
    assert by_key["`OAUTH2_ISSUER`"].per_client == "app-wide"


def test_a_setting_added_to_the_table_appears_with_no_other_edit() -> None:
    new = Setting(
        "OAUTH2_SOMETHING_NEW",
        "something_new",
        30,
        Seconds(),
        "seconds",
        "a setting nobody documented by hand",
        per_client=True,
    )
    flag = dataclasses.replace(
        new, key="OAUTH2_A_FLAG", name="a_flag", default=False, coerce=Flag()
    )
    rows = setting_rows((*SETTINGS, new, flag))
    assert rows[-2].key == "`OAUTH2_SOMETHING_NEW`"
    assert rows[-2].default == "`30`"
    assert rows[-2].meaning == "a setting nobody documented by hand"
    assert "`something_new` column" in rows[-2].per_client
    assert "--a-flag/--no-a-flag" in rows[-1].per_client


def test_the_configuration_page_uses_the_generated_table() -> None:
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert "```{settings-table}" in page
    assert "OAUTH2_REFRESH_TOKEN_VALIDITY_PERIOD |" not in page  # not hand-copied


def test_the_api_page_documents_every_public_name() -> None:
    page = (DOCS / "api.md").read_text(encoding="utf-8")
    for name in flask_refreshgrant.__all__:
        if name in {"__version__", "signals"}:
            continue
        assert f":: {name}" in page, name
    assert ".. automodule:: flask_refreshgrant.signals" in page
    assert ".. automodule:: flask_refreshgrant.testing" in page


def test_the_api_page_documents_every_signal() -> None:
    page = (DOCS / "api.md").read_text(encoding="utf-8")
    for name, value in vars(signals).items():
        if isinstance(value, Signal):
            assert f"autodata:: flask_refreshgrant.signals.{name}" in page, name


@pytest.mark.parametrize("name", sorted(diagrams.DIAGRAMS))
def test_each_diagram_is_a_well_formed_svg_with_a_title(name: str) -> None:
    # Our own generator's output, not untrusted input.
    root = ElementTree.fromstring(diagrams.DIAGRAMS[name]())  # noqa: S314
    svg = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{svg}svg"
    title = root.find(f"{svg}title")
    assert title is not None and title.text


def test_the_diagrams_the_pages_show_are_the_generated_ones() -> None:
    page = (DOCS / "refresh-tokens.md").read_text(encoding="utf-8")
    for name in diagrams.DIAGRAMS:
        assert f"(_generated/{name}.svg)" in page


def test_writing_the_diagrams_leaves_unchanged_files_alone(tmp_path: Path) -> None:
    first = diagrams.write_all(tmp_path)
    stamps = [path.stat().st_mtime_ns for path in first]
    diagrams.write_all(tmp_path)
    assert [path.stat().st_mtime_ns for path in first] == stamps


def test_the_site_link_check_finds_missing_pages_and_anchors(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text(
        '<a href="page.html#here">ok</a> <a href="page.html#gone">anchor</a>'
        ' <a href="missing.html">page</a> <a href="https://example.com/">out</a>'
        ' <a href="#top">self</a><span id="top"></span>',
        encoding="utf-8",
    )
    (tmp_path / "page.html").write_text('<h1 id="here">Here</h1>', encoding="utf-8")
    assert local_links.broken_links(tmp_path) == [
        ("index.html", "page.html#gone"),
        ("index.html", "missing.html"),
    ]


def test_code_in_click_help_becomes_a_literal() -> None:
    assert cli_help.double_backticks("`False`: it keeps ``x``") == (
        "``False``: it keeps ``x``"
    )
