"""For ``test_mcp_live.py``: the example MCP server as a real process, the
MCP client's token storage, and a person who logs in and approves on the
example app's pages over HTTP when the client sends them there."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import anyio.to_thread
import requests
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthToken,
)

from .live import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    REPO_ROOT,
    REQUEST_TIMEOUT,
    STARTUP_TIMEOUT,
    LiveServer,
    example_environment,
    free_port,
)


@dataclass
class McpServer:
    url: str  # the MCP endpoint, its resource identifier
    stdout_path: Path
    stderr_path: Path

    def output(self) -> str:
        return (
            f"--- MCP server stdout ---\n{self.stdout_path.read_text()}\n"
            f"--- MCP server stderr ---\n{self.stderr_path.read_text()}"
        )


@contextmanager
def mcp_server(
    tmp_path: Path,
    issuer: LiveServer | str,
    database_url: str | None,
    *args: str,
    port: int | None = None,
) -> Iterator[McpServer]:
    """``python -m example_app.mcp_server`` for ``issuer`` (the example app,
    or any issuer's URL), on the example app's database (without
    ``--client-id`` it provisions its introspection client there)."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    out_path, err_path = tmp_path / f"mcp-{port}.out", tmp_path / f"mcp-{port}.err"
    command = [
        sys.executable,
        "-m",
        "example_app.mcp_server",
        "--port",
        str(port),
        "--issuer",
        issuer if isinstance(issuer, str) else issuer.base_url,
        *args,
    ]
    if isinstance(issuer, str) or database_url is None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    else:
        env = example_environment(issuer, database_url)
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    server = McpServer(base + "/mcp", out_path, err_path)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            assert process.poll() is None, server.output()
            with suppress(requests.RequestException):
                metadata = base + "/.well-known/oauth-protected-resource/mcp"
                if requests.get(metadata, timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.1)
        yield server
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    assert "Traceback" not in err_path.read_text(), server.output()


@dataclass
class MemoryStorage:
    """The SDK's ``TokenStorage``, remembering every token response."""

    client_info: OAuthClientInformationFull | None = None
    history: list[OAuthToken] = field(default_factory=list)

    async def get_tokens(self) -> OAuthToken | None:
        return self.history[-1] if self.history else None

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.history.append(tokens)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class _Forms(HTMLParser):
    """The POST forms of a page: action and the hidden inputs' values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form" and values.get("method", "").lower() == "post":
            self.forms.append((values.get("action", ""), {}))
        elif tag == "input" and self.forms and values.get("type") == "hidden":
            self.forms[-1][1][values.get("name", "")] = values.get("value", "")


def post_form(
    session: requests.Session, page: requests.Response, path: str, **fields: str
) -> requests.Response:
    """Submit the page's form whose action starts with ``path``."""
    parser = _Forms()
    parser.feed(page.text)
    for action, hidden in parser.forms:
        if urlsplit(urljoin(page.url, action)).path.startswith(path):
            return session.post(
                urljoin(page.url, action),
                data={**hidden, **fields},
                allow_redirects=False,
                timeout=REQUEST_TIMEOUT,
            )
    raise AssertionError(f"no form posting to {path} on {page.url}:\n{page.text}")


def _location(response: requests.Response) -> str:
    assert response.status_code in (302, 303), (response.status_code, response.text)
    return urljoin(response.url, response.headers["Location"])


@dataclass
class Person:
    """Opens the authorization URL the MCP client hands over, logs in as the
    demo user, approves, and hands the code back through the callback."""

    username: str = DEMO_USERNAME
    password: str = DEMO_PASSWORD
    authorization_urls: list[str] = field(default_factory=list)
    _result: AuthorizationCodeResult | None = None

    async def redirect_handler(self, url: str) -> None:
        self.authorization_urls.append(url)
        self._result = await anyio.to_thread.run_sync(self._approve, url)

    async def callback_handler(self) -> AuthorizationCodeResult:
        assert self._result is not None
        result, self._result = self._result, None
        return result

    def _approve(self, authorization_url: str) -> AuthorizationCodeResult:
        with requests.Session() as browser:

            def get(url: str) -> requests.Response:
                return browser.get(url, allow_redirects=False, timeout=REQUEST_TIMEOUT)

            login_url = _location(get(authorization_url))
            assert urlsplit(login_url).path == "/login", login_url
            login_page = get(login_url)
            assert login_page.status_code == 200, login_page.text
            logged_in = post_form(
                browser,
                login_page,
                "/login",
                username=self.username,
                password=self.password,
            )
            consent_page = get(_location(logged_in))
            assert consent_page.status_code == 200, consent_page.text
            approved = post_form(
                browser, consent_page, "/oauth2/authorize", decision="approve"
            )
            redirect = _location(approved)
        query = {k: v[0] for k, v in parse_qs(urlsplit(redirect).query).items()}
        assert "code" in query, redirect
        return AuthorizationCodeResult(
            code=query["code"], state=query.get("state"), iss=query.get("iss")
        )
