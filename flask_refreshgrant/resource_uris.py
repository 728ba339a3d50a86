"""Resource indicators (RFC 8707): which URIs may name a resource, and how
a grant's resources become an access token's audience.

No SQL, no Flask and no Authlib: the configuration checks
``OAUTH2_RESOURCES`` and ``OAUTH2_DEFAULT_RESOURCE`` with
:func:`resource_uri_problem`, and the grants (``grants/resources.py``)
check each request's ``resource`` parameters with :func:`acceptable`.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

#: Hosts for which an ``http`` resource is accepted when no list is set.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def resource_uri_problem(uri: str) -> str | None:
    """Why ``uri`` cannot name a resource (RFC 8707 §2: an absolute URI
    without a fragment), or ``None`` if it can."""
    if not uri:
        return "a resource cannot be empty"
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in uri):
        return "a resource cannot contain whitespace or control characters"
    if "#" in uri:
        return "a resource cannot have a fragment (RFC 8707 section 2)"
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 (raises for a port that is not a number)
    except ValueError:
        return "a resource must be a valid URI"
    if not parts.scheme or not parts.netloc or not parts.hostname:
        return "a resource must be an absolute URI with a host (RFC 8707 section 2)"
    return None


def acceptable(uri: str, allowed: Iterable[str] | None) -> bool:
    """Whether tokens may be issued for ``uri``: one of ``allowed``
    (``OAUTH2_RESOURCES``) exactly; with ``None``, any ``https`` URI or an
    ``http`` URI of a loopback host."""
    if resource_uri_problem(uri) is not None:
        return False
    if allowed is not None:
        return uri in allowed
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    return scheme == "https" or (scheme == "http" and parts.hostname in LOOPBACK_HOSTS)


def split(value: str | None) -> tuple[str, ...]:
    """A stored list of resources (space-separated; ``None``: none)."""
    return tuple(value.split()) if value else ()


def joined(resources: Iterable[str]) -> str | None:
    """Resources as stored: space-separated, once each; ``None`` for none."""
    unique = list(dict.fromkeys(resources))
    return " ".join(unique) if unique else None


def audience_claim(audience: tuple[str, ...]) -> str | list[str]:
    """``aud`` as RFC 7519 §4.1.3 writes it: one string, or a list of several."""
    return audience[0] if len(audience) == 1 else list(audience)
