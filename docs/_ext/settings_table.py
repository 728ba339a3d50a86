"""The Configuration page's table, generated from ``config.SETTINGS`` at build time.

``settings-table`` (a directive, used once in ``configuration.md``) renders
every entry of :data:`flask_refreshgrant.config.SETTINGS`: an overview table
(key, default, unit, per client or app-wide) whose keys link to one entry per
setting with its meaning, default and unit, and the client column and
``create-client`` option that override it. A setting added to the table
appears on the page with no other edit.

Each key is also a cross-reference target: ``{setting}`OAUTH2_ISSUER``` links
to its row from any page (a missing key is a warning, so ``-W`` fails the
build).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import make_id

from flask_refreshgrant import config
from flask_refreshgrant.coercion import Flag
from flask_refreshgrant.config import Setting

#: The Sphinx object type (and role) of a configuration key.
OBJECT_TYPE = "setting"

HEADER = ("key", "default", "unit", "per client", "meaning")


@dataclasses.dataclass(frozen=True)
class SettingRow:
    """One row of the table, as Markdown-ish text (``code`` in backticks)."""

    key: str
    default: str
    unit: str
    #: The client column and ``create-client`` option that override the
    #: setting for one client, or ``app-wide``.
    per_client: str
    meaning: str


def show_default(value: object) -> str:
    """A default as the README writes it: ``"/oauth2"``, ``86400``, ``None``."""
    return f'"{value}"' if isinstance(value, str) else repr(value)


def per_client_text(setting: Setting) -> str:
    if not setting.per_client:
        return "app-wide"
    option = f"--{setting.cli_option}"
    if isinstance(setting.coerce, Flag):
        option += f"/--no-{setting.cli_option}"
    return f"the `{setting.name}` column; `create-client {option}`"


def setting_rows(settings: Iterable[Setting]) -> list[SettingRow]:
    """One row per setting, in table order."""
    return [
        SettingRow(
            key=f"`{setting.key}`",
            default=f"`{show_default(setting.default)}`",
            unit=setting.unit,
            per_client=per_client_text(setting),
            meaning=setting.doc,
        )
        for setting in settings
    ]


_CODE = re.compile(r"`([^`]+)`")


def inline(text: str) -> list[nodes.Node]:
    """Text with ``code`` spans in single backticks as docutils nodes."""
    result: list[nodes.Node] = []
    position = 0
    for match in _CODE.finditer(text):
        if match.start() > position:
            result.append(nodes.Text(text[position : match.start()]))
        result.append(nodes.literal(match.group(1), match.group(1)))
        position = match.end()
    if position < len(text):
        result.append(nodes.Text(text[position:]))
    return result


class SettingsTableDirective(SphinxDirective):
    """``settings-table``: every setting of ``config.SETTINGS``, as an
    overview table (key, default, unit, per client) whose keys link to an
    entry with the setting's meaning, its client column and CLI option."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        # Rebuild the page whenever the settings table changes.
        self.env.note_dependency(config.__file__)
        rows = setting_rows(config.SETTINGS)
        ids = [
            make_id(self.env, self.state.document, OBJECT_TYPE, setting.key)
            for setting in config.SETTINGS
        ]
        return [self._overview(rows, ids), self._entries(rows, ids)]

    def _overview(self, rows: list[SettingRow], ids: list[str]) -> nodes.table:
        table = nodes.table(classes=["settings-table"])
        group = nodes.tgroup(cols=4)
        table += group
        for width in (50, 14, 10, 14):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        head += _row([[nodes.Text(title)] for title in HEADER[:4]])
        group += head
        body = nodes.tbody()
        group += body
        for row, node_id in zip(rows, ids, strict=True):
            link = nodes.reference("", "", internal=True, refid=node_id)
            link += inline(row.key)
            scope = "app-wide" if row.per_client == "app-wide" else "per client"
            body += _row(
                [
                    [link],
                    inline(row.default),
                    [nodes.Text(row.unit)],
                    [nodes.Text(scope)],
                ]
            )
        return table

    def _entries(self, rows: list[SettingRow], ids: list[str]) -> nodes.Node:
        entries = nodes.definition_list(classes=["settings"])
        domain: Any = self.env.get_domain("std")
        for setting, row, node_id in zip(config.SETTINGS, rows, ids, strict=True):
            item = nodes.definition_list_item()
            term = nodes.term("", "", ids=[node_id])
            term += addnodes.index(
                entries=[
                    ("pair", f"{setting.key}; configuration key", node_id, "", None)
                ]
            )
            term += nodes.strong("", "", *inline(row.key))
            self.state.document.note_explicit_target(term)
            domain.note_object(OBJECT_TYPE, setting.key, node_id, location=term)
            definition = nodes.definition()
            meaning = nodes.paragraph()
            meaning += inline(row.meaning[:1].upper() + row.meaning[1:] + ".")
            facts = nodes.paragraph()
            facts += nodes.Text("Default: ")
            facts += inline(row.default)
            facts += nodes.Text(f" ({row.unit}). ")
            if row.per_client == "app-wide":
                facts += nodes.Text("App-wide.")
            else:
                facts += nodes.Text("Per client: ")
                facts += inline(row.per_client)
                facts += nodes.Text(".")
            definition += [meaning, facts]
            item += [term, definition]
            entries += item
        return entries


def _row(cells: list[list[nodes.Node]]) -> nodes.row:
    row = nodes.row()
    for content in cells:
        entry = nodes.entry()
        paragraph = nodes.paragraph()
        paragraph += content
        entry += paragraph
        row += entry
    return row


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_object_type(
        OBJECT_TYPE,
        OBJECT_TYPE,
        objname="configuration key",
        indextemplate="pair: %s; configuration key",
    )
    app.add_directive("settings-table", SettingsTableDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
