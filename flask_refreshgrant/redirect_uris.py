"""Redirect URIs: which ones a client may register (RFC 6749 §3.1.2,
RFC 8252 §7, RFC 9700 §2.1), and how a requested one matches them.

No SQL and no Flask: :mod:`.management.registration` checks registrations with
:func:`redirect_uri_problem`, and the client model matches authorization
requests with :func:`redirect_uri_matches`.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

#: Hosts for which ``http`` is allowed: the request never leaves the machine
#: (RFC 8252 §7.3, §8.3; RFC 9700 §2.1).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})

#: RFC 3986 §3.1 scheme syntax.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


def redirect_uri_problem(uri: str, *, public: bool) -> str | None:
    """Why ``uri`` cannot be registered, or ``None`` if it can.

    Accepted: an absolute URI without a fragment, whitespace or control
    characters, that is ``https``; ``http`` for a loopback host only; or,
    for a public client, a private-use scheme of a native app in reverse
    domain name form (RFC 8252 §7.1, ``com.example.app:/callback``).
    Everything else — ``javascript:``, ``data:``, ``file:``, relative URIs,
    ``http`` to another host — is refused.
    """
    if not uri:
        return "a redirect URI cannot be empty"
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in uri):
        return "a redirect URI cannot contain whitespace or control characters"
    if "#" in uri:
        return "a redirect URI cannot have a fragment (RFC 6749 section 3.1.2)"
    scheme, colon, _ = uri.partition(":")
    if not colon or not _SCHEME.fullmatch(scheme):
        return "a redirect URI must be absolute (RFC 6749 section 3.1.2)"
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 (raises for a port that is not a number)
    except ValueError:
        return "a redirect URI must be a valid URI"
    scheme = scheme.lower()
    if scheme in ("https", "http"):
        if not parts.netloc or not parts.hostname:
            return "a redirect URI must name a host"
        if scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
            return (
                "a redirect URI must use https (http only for 127.0.0.1, [::1] "
                "or localhost)"
            )
        return None
    if "." not in scheme:
        return (
            f"redirect URIs with the scheme {scheme!r} are refused: use https, "
            "http for a loopback host, or (public clients) a private-use scheme "
            "in reverse domain name form such as com.example.app:/callback"
        )
    if not public:
        return (
            "a private-use URI scheme (RFC 8252 section 7.1) is for public "
            "(native app) clients only"
        )
    return None


#: Loopback IP literals: a redirect URI registered for one matches any port
#: (RFC 8252 §7.3), whether it was registered with a port or not.
LOOPBACK_IPS = frozenset({"127.0.0.1", "::1"})


def _any_port(uri: str) -> bool:
    """Whether ``uri``, registered, matches requests on any port: ``http``
    to a loopback IP literal, or to ``localhost`` registered without one."""
    parts = urlsplit(uri)
    if parts.scheme != "http" or parts.netloc.endswith(":"):
        return False
    if parts.hostname in LOOPBACK_IPS:
        return True
    return parts.hostname == "localhost" and parts.port is None


def _without_port(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.port is None:
        return uri
    return parts._replace(netloc=parts.netloc.rsplit(":", 1)[0]).geturl()


def redirect_uri_matches(registered: str, requested: str) -> bool:
    """Exact string match (RFC 9700 §2.1), except the port of a loopback
    ``http`` URI (RFC 8252 §7.3): a native app, an MCP client or a server
    started on whatever port is free listens on an ephemeral one. That holds
    for a loopback IP literal, registered with a port or without, and for
    ``localhost`` registered without one."""
    if registered == requested:
        return True
    try:
        if not _any_port(registered):
            return False
        asked = urlsplit(requested)
        port = asked.port
        if port is None or asked.scheme != "http":
            return False
        return _without_port(requested) == _without_port(registered)
    except ValueError:
        return False
