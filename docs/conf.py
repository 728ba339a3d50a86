"""Sphinx configuration of the flask-refreshgrant documentation.

Build with ``scripts/docs`` (or ``python -m sphinx -W --keep-going -n -b html
docs docs/_build/html``). Pages are MyST Markdown; the Configuration, CLI and
API pages are generated from the code (see ``_ext/``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

import flask_refreshgrant

project = "flask-refreshgrant"
author = "the flask-refreshgrant authors"
copyright = "the flask-refreshgrant authors"
release = version = flask_refreshgrant.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx_click",
    # Ours, in _ext/:
    "settings_table",  # the Configuration table, from config.SETTINGS
    "diagrams",  # the SVG pictures of "Refresh tokens explained"
    "local_links",  # every link inside the built site must resolve
    "cli_help",  # `code` in click help texts rendered as code
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_generated", "Thumbs.db", ".DS_Store"]

# MyST: anchors for headings down to ###, so [text](page.md#a-heading) links
# are checked; ``{setting}`KEY``` links to a row of the settings table.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]

# Every cross-reference must resolve (-n). There is no intersphinx (CI has
# no network to fetch other projects' inventories), so references to other
# packages' objects and to builtins are expected not to resolve; a
# reference into flask_refreshgrant always must.
nitpicky = True
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(flask|flask_sqlalchemy|sqlalchemy|authlib|blinker|click|werkzeug"
        r"|typing|collections|datetime|dataclasses)(\..*)?",
    ),
    (
        r"py:.*",
        r"(str|int|bool|float|bytes|dict|list|tuple|set|frozenset|object|type"
        r"|None|Any|Callable|Iterable|Mapping|Exception|ValueError|RuntimeError"
        r"|Flask|SQLAlchemy|Response|ResponseReturnValue|Signal|Mapped"
        r"|OAuth2Error|NamedSignal)",
    ),
]

# Internal types that appear in public signatures but are not part of the API.
nitpick_ignore = [
    ("py:class", "flask_refreshgrant.server.state.RefreshGrantState"),
    ("py:class", "flask_refreshgrant.grants.protocols.ConsentServer"),
    ("py:class", "flask_refreshgrant.models._IssuedTokenMixin"),
    # The type variable of a user object, whatever the app's user class is.
    ("py:class", "flask_refreshgrant.extension._User"),
    ("py:class", "flask_refreshgrant.grants.lockout._User"),
    # The type of a view the resource server's decorator guards.
    ("py:class", "flask_refreshgrant.resource_server.protected._View"),
    # Sphinx splits the string annotation ``Callable[[], float]`` oddly.
    ("py:class", "Callable[[]"),
]

autodoc_member_order = "bysource"
# The callables of init_app, documented as type aliases on the API page.
autodoc_type_aliases = {
    name: f"flask_refreshgrant.grants.protocols.{name}"
    for name in ("LoadUser", "AuthenticateUser", "GetUserId")
} | {
    "AuthorizeView": "flask_refreshgrant.endpoints.authorization_request.AuthorizeView"
}
autodoc_typehints = "signature"
# Authlib's docstrings of the hooks the mixins implement describe Authlib's
# own models, not these.
autodoc_inherit_docstrings = False
# Defaults as written in the source (``time.time``), not their reprs.
autodoc_preserve_defaults = True

html_theme = "furo"
html_title = f"flask-refreshgrant {release}"
