"""Every code block of the Quickstart and "Testing your app" pages runs here,
so the examples cannot rot.

A page's fenced blocks are read in order and become one bash script, run in
an empty directory with this virtualenv's ``python``, ``flask`` and
``pytest`` first on ``PATH``:

* ``python`` with a ``:caption:`` (a ``{code-block}`` directive): the file of
  that name, written before the script runs (``app.py``, ``conftest.py``…);
* ``python`` without one: a script, run at its place with ``python``;
* ``sh``: shell commands, run at their place (``set -euo pipefail``);
* ``json`` or ``text`` right after one of those: what that block prints to
  stdout. JSON must parse to the same keys, with equal values except where
  the page writes ``"…"``; text must match whole, ``…`` standing for
  anything (several lines included).

Two comments of MyST (lines starting with ``%``, not rendered) say more about
the block that follows them:

* ``% test: skip`` — not run here (the Testing page's ``pip install
  pytest pytest-flask``: this virtualenv has them);
* ``% test: server`` — a server that a reader starts in another terminal: run
  in the background on a free port, and waited for. ``127.0.0.1:5000`` in the
  page's commands becomes that port.

The Quickstart installs the package from a clone of the repository in
``../flask-refreshgrant``: here, that path is this checkout, installed into
the fresh virtualenv the page creates (which then comes first on ``PATH``);
pip's cache and the package index pip is configured with provide the
dependencies.

Any other kind of block is an error, so a new example is either run or
explicitly skipped. "Testing your app" runs next to the Quickstart's files.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
QUICKSTART = DOCS / "quickstart.md"
TESTING = DOCS / "testing.md"

RUNNABLE = {"python", "sh"}
OUTPUT = {"json", "text"}
MARKS = {"skip", "server"}
DOCUMENTED_PORT = "127.0.0.1:5000"
#: Where the Quickstart expects the clone of the repository.
DOCUMENTED_CHECKOUT = "../flask-refreshgrant"
CHECKOUT = Path(__file__).resolve().parent.parent
ELLIPSIS = "…"
#: Seconds for a whole page; the Quickstart's install step takes most of it.
SCRIPT_TIMEOUT = 300


@dataclasses.dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    language: str
    code: str
    #: Where the block starts, for messages: ``quickstart.md:42``.
    where: str
    #: The file name of a ``{code-block}`` with ``:caption:``.
    caption: str | None = None
    #: What ``% test: …`` comments right above it say.
    marks: frozenset[str] = frozenset()


_FENCE = re.compile(r"^(`{3,})\s*(\S*)\s*(.*)$")
_MARK = re.compile(r"^%\s*test:\s*(.+)$")


def read_blocks(page: Path) -> list[Block]:
    """The fenced blocks of a MyST page, with their ``% test:`` marks."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    marks: set[str] = set()
    index = 0
    while index < len(lines):
        line = lines[index]
        mark = _MARK.match(line)
        fence = _FENCE.match(line)
        if mark:
            marks.update(mark.group(1).split())
        elif fence:
            ticks, name, argument = fence.groups()
            start = index
            body: list[str] = []
            index += 1
            while index < len(lines) and lines[index].rstrip() != ticks:
                body.append(lines[index])
                index += 1
            language, caption = name, None
            if name == "{code-block}":
                language = argument
                while body and body[0].startswith(":"):
                    option, _, value = body.pop(0)[1:].partition(":")
                    if option == "caption":
                        caption = value.strip()
            if not name.startswith("{") or name == "{code-block}":
                blocks.append(
                    Block(
                        language=language,
                        code="\n".join(body).strip("\n") + "\n",
                        where=f"{page.name}:{start + 1}",
                        caption=caption,
                        marks=frozenset(marks),
                    )
                )
            marks = set()
        elif line.strip():
            marks = set()
        index += 1
    return blocks


@dataclasses.dataclass
class Step:
    """A block of the script, and the output block that follows it, if any."""

    block: Block
    expected: Block | None = None


def plan(blocks: list[Block]) -> tuple[dict[str, str], list[Step]]:
    """Files to write, and the steps to run, from a page's blocks."""
    files: dict[str, str] = {}
    steps: list[Step] = []
    previous: Step | None = None
    for block in blocks:
        unknown = block.marks - MARKS
        assert not unknown, f"{block.where}: unknown mark(s) {sorted(unknown)}"
        if "skip" in block.marks:
            previous = None
            continue
        if block.language in OUTPUT:
            assert previous is not None and previous.expected is None, (
                f"{block.where}: an output block must follow a block that runs"
            )
            previous.expected = block
            previous = None
        elif block.language == "python" and block.caption:
            assert block.caption not in files, f"{block.where}: {block.caption} twice"
            files[block.caption] = block.code
            previous = None
        elif block.language in RUNNABLE:
            previous = Step(block)
            steps.append(previous)
        else:
            raise AssertionError(
                f"{block.where}: a {block.language!r} block is neither run nor "
                "skipped (see this module's docstring)"
            )
    return files, steps


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def script(steps: list[Step], port: int) -> tuple[str, dict[str, str]]:
    """One bash script running every step, a marker line before each, and
    the files of the Python steps it runs."""
    files: dict[str, str] = {}
    parts = [
        "set -euo pipefail",
        "server_pid=",
        "trap 'if [[ -n $server_pid ]]; then kill \"$server_pid\"; fi' EXIT",
    ]
    for number, step in enumerate(steps):
        parts.append(f"printf '\\n@@step {number}@@\\n'")
        block = step.block
        if block.language == "python":
            name = f"_docs_step_{number}.py"
            files[name] = block.code
            parts.append(f"python {name}")
            continue
        code = block.code.replace(DOCUMENTED_PORT, f"127.0.0.1:{port}")
        code = code.replace(DOCUMENTED_CHECKOUT, shlex.quote(str(CHECKOUT)))
        if "server" in block.marks:
            parts.append(f"FLASK_RUN_PORT={port} {code.strip()} >server.log 2>&1 &")
            parts.append("server_pid=$!")
            parts.append(
                "for _ in $(seq 150); do "
                f"curl -s -o /dev/null http://127.0.0.1:{port}/ && break; "
                "sleep 0.1; done"
            )
        else:
            parts.append(code)
    parts.append("printf '\\n@@step end@@\\n'")
    return "\n".join(parts) + "\n", files


def outputs(stdout: str) -> dict[str, str]:
    """Each step's stdout, by step number (and ``end``)."""
    pieces = re.split(r"\n@@step (\w+)@@\n", "\n" + stdout)
    return dict(zip(pieces[1::2], pieces[2::2], strict=True))


def matches_json(expected: Any, actual: Any) -> bool:
    if expected == ELLIPSIS:
        return True
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(matches_json(expected[k], actual[k]) for k in expected)
        )
    return bool(expected == actual)


def matches_text(expected: str, actual: str) -> bool:
    pattern = ".*?".join(re.escape(part) for part in expected.strip().split(ELLIPSIS))
    return re.fullmatch(pattern, actual.strip(), flags=re.DOTALL) is not None


def run_page(page: Path, workdir: Path, files: dict[str, str]) -> None:
    """Write the files, run the page's steps, check each documented output."""
    page_files, steps = plan(read_blocks(page))
    port = free_port()
    commands, step_files = script(steps, port)
    all_files = {**files, **page_files, **step_files, "docs-steps.sh": commands}
    for name, content in all_files.items():
        (workdir / name).write_text(content, encoding="utf-8")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FLASK_", "OAUTH2_", "PYTEST_"))
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    with subprocess.Popen(
        ["bash", "docs-steps.sh"],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=SCRIPT_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
    by_step = outputs(stdout)
    if process.returncode != 0 or "end" not in by_step:
        reached = max((int(key) for key in by_step if key != "end"), default=0)
        log = workdir / "server.log"
        pytest.fail(
            f"{page.name}: the block at {steps[reached].block.where} failed "
            f"(exit status {process.returncode})\nstdout:\n{stdout}\n"
            f"stderr:\n{stderr}\n"
            + (f"server.log:\n{log.read_text()}" if log.exists() else "")
        )
    for number, step in enumerate(steps):
        if step.expected is None:
            continue
        actual = by_step[str(number)]
        expected = step.expected
        if expected.language == "json":
            try:
                parsed = json.loads(actual)
            except json.JSONDecodeError:
                parsed = None
            ok = parsed is not None and matches_json(json.loads(expected.code), parsed)
        else:
            ok = matches_text(expected.code, actual)
        assert ok, (
            f"{step.block.where} printed\n{actual}\n"
            f"which does not match {expected.where}:\n{expected.code}"
        )


def test_the_quickstart_runs_as_written(tmp_path: Path) -> None:
    """From its install step (this checkout into a new virtualenv) on."""
    run_page(QUICKSTART, tmp_path, {})
    installed = tmp_path / ".venv" / "bin" / "python"
    where = subprocess.run(
        [
            str(installed),
            "-c",
            "import flask_refreshgrant; print(flask_refreshgrant.__file__)",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path.parent,
    ).stdout
    assert where.startswith(str(tmp_path / ".venv")), where


def test_the_testing_page_runs_as_written_next_to_the_quickstart(
    tmp_path: Path,
) -> None:
    quickstart_files, _ = plan(read_blocks(QUICKSTART))
    run_page(TESTING, tmp_path, quickstart_files)


@pytest.mark.parametrize("page", [QUICKSTART, TESTING], ids=lambda p: p.name)
def test_every_block_is_run_or_explicitly_skipped(page: Path) -> None:
    files, steps = plan(read_blocks(page))
    assert files or steps
    assert any(step.expected for step in steps), "no output is checked"


def test_the_reader_of_this_module_finds_its_conventions_on_the_pages() -> None:
    for page in (QUICKSTART, TESTING):
        assert "tests/test_docs_examples.py" in page.read_text(encoding="utf-8")


def test_expected_output_matching() -> None:
    assert matches_json({"a": ELLIPSIS, "b": 1}, {"a": "x", "b": 1})
    assert not matches_json({"a": ELLIPSIS}, {"a": "x", "b": 1})
    assert not matches_json({"b": 1}, {"b": 2})
    assert matches_text("…\n3 passed in …", "...   [100%]\n3 passed in 0.5s")
    assert not matches_text("3 passed in …", "1 failed, 2 passed in 0.5s")
