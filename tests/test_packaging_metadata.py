"""What the distribution's metadata promises (setup.cfg): extras that mean
what their names say, authors and project URLs."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV_TOOLS = {"ruff", "mypy", "build", "playwright"}


def setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg", encoding="utf-8")
    return parser


def names(requirements: str) -> set[str]:
    """Distribution names of a requirements list (comments skipped)."""
    found = set()
    for line in requirements.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = re.match(r"[A-Za-z0-9_.-]+", line)
            assert match, line
            found.add(match.group().lower())
    return found


def extras() -> dict[str, set[str]]:
    section = setup_cfg()["options.extras_require"]
    return {name: names(value) for name, value in section.items()}


def test_the_test_extra_is_what_an_apps_tests_need() -> None:
    """flask_refreshgrant.testing: pytest and pytest-flask, not our tools."""
    assert extras()["test"] == {"pytest", "pytest-flask"}


def test_the_projects_own_tools_are_in_the_dev_extra() -> None:
    by_name = extras()
    assert by_name["dev"] >= DEV_TOOLS
    for name, required in by_name.items():
        if name != "dev":
            assert not DEV_TOOLS & required, f"{name} installs {DEV_TOOLS & required}"
    # scripts/test (and .ci/run, which calls it) installs them.
    assert '".[test,dev,docs]"' in (ROOT / "scripts" / "test").read_text()


def test_every_extra_adds_something() -> None:
    """No extra that only repeats what every install has (``dpop`` did:
    joserfc comes with Authlib, and is a dependency of its own now)."""
    required = names(setup_cfg()["options"]["install_requires"])
    assert "joserfc" in required
    for name, extra in extras().items():
        assert extra - required, f"the {name} extra adds nothing"
    assert "dpop" not in extras()


def test_the_example_extra_can_serve_with_gunicorn() -> None:
    assert "gunicorn" in extras()["example"]


def test_authors_and_project_urls() -> None:
    metadata = setup_cfg()["metadata"]
    assert metadata["author"]
    urls = dict(
        line.split(" = ", 1) for line in metadata["project_urls"].strip().splitlines()
    )
    assert set(urls) == {"Source", "Documentation", "Changelog", "Issues"}
    assert all(url.startswith("https://") for url in urls.values())
