"""The JSON requests a resource server makes to the authorization server —
metadata, JWKS, introspection — with the standard library: a timeout, a
bounded answer, and one error type for every failure."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from .errors import unavailable

#: The largest answer read (a JWKS with many RSA keys is a few KiB).
MAX_RESPONSE_BYTES = 1024 * 1024


def _read_json(request: urllib.request.Request, timeout: float) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as error:
        raise unavailable(
            f"The authorization server answered HTTP {error.code}."
        ) from error
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise unavailable("The authorization server could not be reached.") from error
    if len(body) > MAX_RESPONSE_BYTES:
        raise unavailable("The authorization server's answer is too large.")
    try:
        document = json.loads(body)
    except ValueError as error:
        raise unavailable("The authorization server's answer is not JSON.") from error
    if not isinstance(document, dict):
        raise unavailable("The authorization server's answer is not a JSON object.")
    return document


def _check_url(url: str) -> None:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {url!r}")


def get_json(url: str, *, timeout: float) -> dict[str, Any]:
    """GET ``url``; its JSON object."""
    _check_url(url)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 (http(s) only, checked)
    return _read_json(request, timeout)


def post_form(
    url: str, form: dict[str, str], *, auth: tuple[str, str], timeout: float
) -> dict[str, Any]:
    """POST ``form`` to ``url`` with HTTP Basic ``auth`` (RFC 6749 §2.3.1:
    each part form-encoded first); its JSON object."""
    _check_url(url)
    user, password = (urllib.parse.quote(part, safe="") for part in auth)
    basic = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    request = urllib.request.Request(  # noqa: S310 (http(s) only, checked)
        url,
        data=urllib.parse.urlencode(form).encode(),
        headers={
            "Accept": "application/json",
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        method="POST",
    )
    return _read_json(request, timeout)
