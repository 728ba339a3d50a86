"""The metadata of a dynamic client registration request (RFC 7591 §2),
checked: what may be registered, and the RFC's error codes when it may not.
No SQL and no Flask."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from ..config import Settings
from ..redirect_uris import redirect_uri_problem

#: The only grant types a client may register itself for.
DYNAMIC_GRANT_TYPES = ("authorization_code", "refresh_token")
#: ``token_endpoint_auth_method`` values; RFC 7591 §2's default first.
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
#: The longest ``client_name`` the client table holds.
MAX_NAME_LENGTH = 200
#: At most this many redirect URIs, each at most this long.
MAX_REDIRECT_URIS = 20
MAX_URI_LENGTH = 2000
#: A scope token's characters (RFC 6749 §3.3).
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def _is_text(value: str) -> bool:
    """Whether ``value`` can be stored as text: encodable as UTF-8 (JSON's
    ``\\ud800`` decodes to a lone surrogate, which is not) and free of NUL."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


class ClientMetadataError(Exception):
    """A refused registration: ``error`` is ``invalid_redirect_uri`` or
    ``invalid_client_metadata`` (RFC 7591 §3.2.2)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def _invalid(description: str) -> ClientMetadataError:
    return ClientMetadataError("invalid_client_metadata", description)


def _string_list(body: dict[str, Any], name: str, default: list[str]) -> list[str]:
    value = body.get(name, default)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid(f"'{name}' must be an array of strings.")
    return list(dict.fromkeys(value))


@dataclasses.dataclass(frozen=True)
class ClientMetadata:
    """A registration request that may be stored."""

    redirect_uris: tuple[str, ...]
    grant_types: tuple[str, ...]
    response_types: tuple[str, ...]
    token_endpoint_auth_method: str
    client_name: str
    scope: str

    @property
    def public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    def as_json(self) -> dict[str, Any]:
        """The metadata as stored, for the registration response."""
        body: dict[str, Any] = {
            "redirect_uris": list(self.redirect_uris),
            "grant_types": list(self.grant_types),
            "response_types": list(self.response_types),
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "scope": self.scope,
        }
        if self.client_name:
            body["client_name"] = self.client_name
        return body


def _check_scope(body: dict[str, Any], settings: Settings) -> str:
    supported = settings.scopes_supported
    value = body.get("scope")
    if value is None:
        # RFC 7591 §2: the server may register a default set of scopes.
        return " ".join(supported or ())
    if not isinstance(value, str):
        raise _invalid("'scope' must be a space-separated string.")
    scopes = list(dict.fromkeys(value.split(" ")))
    scopes = [s for s in scopes if s]
    if not all(_SCOPE_TOKEN.fullmatch(s) for s in scopes):
        raise _invalid(
            "'scope' holds a character a scope cannot (RFC 6749 section 3.3)."
        )
    unknown = [s for s in scopes if supported is not None and s not in supported]
    if unknown:
        raise _invalid("'scope' names a scope this server does not support.")
    return " ".join(scopes)


def _check_redirect_uris(body: dict[str, Any], public: bool) -> tuple[str, ...]:
    uris = _string_list(body, "redirect_uris", [])
    if not uris:
        raise ClientMetadataError(
            "invalid_redirect_uri", "At least one redirect URI is required."
        )
    if len(uris) > MAX_REDIRECT_URIS:
        raise ClientMetadataError(
            "invalid_redirect_uri", f"At most {MAX_REDIRECT_URIS} redirect URIs."
        )
    for uri in uris:
        problem = (
            "a redirect URI is too long"
            if len(uri) > MAX_URI_LENGTH
            else "a redirect URI must be plain text"
            if not _is_text(uri)
            else redirect_uri_problem(uri, public=public)
        )
        if problem is not None:
            # Only ASCII in error_description (RFC 6749 §5.2).
            text = problem.replace("§", "section ")
            raise ClientMetadataError(
                "invalid_redirect_uri", text[0].upper() + text[1:] + "."
            )
    return tuple(uris)


def check_client_metadata(body: Any, settings: Settings) -> ClientMetadata:
    """The metadata of ``body`` (a parsed JSON document) as it would be
    stored; raises :class:`ClientMetadataError`. Unknown members are
    ignored (RFC 7591 §2)."""
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object.")
    method = body.get("token_endpoint_auth_method", AUTH_METHODS[0])
    if method not in AUTH_METHODS:
        raise _invalid(
            "'token_endpoint_auth_method' must be none, client_secret_basic "
            "or client_secret_post."
        )
    grant_types = _string_list(body, "grant_types", ["authorization_code"])
    if not set(grant_types) <= set(DYNAMIC_GRANT_TYPES):
        raise _invalid(
            "Only the authorization_code and refresh_token grant types can be "
            "registered."
        )
    if "authorization_code" not in grant_types:
        raise _invalid("'grant_types' must include authorization_code.")
    response_types = _string_list(body, "response_types", ["code"])
    if response_types != ["code"]:
        raise _invalid("'response_types' must be [\"code\"].")
    name = body.get("client_name", "")
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:
        raise _invalid(f"'client_name' must be a string of at most {MAX_NAME_LENGTH}.")
    if not _is_text(name) or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        raise _invalid("'client_name' cannot contain control characters.")
    public = method == "none"
    return ClientMetadata(
        redirect_uris=_check_redirect_uris(body, public),
        grant_types=tuple(grant_types),
        response_types=tuple(response_types),
        token_endpoint_auth_method=method,
        client_name=name,
        scope=_check_scope(body, settings),
    )
