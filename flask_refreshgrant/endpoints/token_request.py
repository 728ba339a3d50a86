"""A token request as RFC 6749 wants it read: parameters from the POST body
only, no repeated parameters, no credentials in the URL, a form content type,
and a strict reading of the HTTP Basic header."""

from __future__ import annotations

import base64
import binascii
import os
import re
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import unquote_to_bytes

from authlib.common.security import is_secure_transport
from authlib.integrations.flask_oauth2.requests import (
    FlaskOAuth2Payload,
    FlaskOAuth2Request,
)
from authlib.oauth2.rfc6749.errors import InsecureTransportError, InvalidRequestError
from flask.wrappers import Request
from werkzeug.datastructures import MultiDict
from werkzeug.sansio.utils import get_current_url

from ..dpop.proofs import Proof

#: Parameters that must never travel in the URL of a token request.
_BODY_ONLY_PARAMETERS = frozenset(
    {
        "grant_type",
        "refresh_token",
        "code",
        "code_verifier",
        "redirect_uri",
        "username",
        "password",
        "client_id",
        "client_secret",
        "scope",
        "assertion",
        "client_assertion",
        "token",
    }
)


#: Parameters a token request may repeat: ``resource`` (RFC 8707 §2).
_REPEATABLE_PARAMETERS = frozenset({"resource"})


class BodyOnlyPayload(FlaskOAuth2Payload):  # type: ignore[misc]
    """OAuth parameters from the form body only, never the URL query."""

    # Cached here: Werkzeug's ``Request.form`` is a data descriptor that runs
    # Python code on every read, and Authlib reads the payload often.
    @cached_property
    def data(self) -> MultiDict[str, str]:
        return self._request.form  # type: ignore[no-any-return]


@lru_cache(maxsize=256)
def _secure_origin(scheme: str, host: str) -> bool:
    """Authlib's :func:`~authlib.common.security.is_secure_transport` of a
    request to ``scheme://host``: its answer depends on the scheme and the
    host name only, never on the path or the query. (Bounded: the ``Host``
    header is the client's to choose.)"""
    return bool(is_secure_transport(get_current_url(scheme, host)))


def check_transport(request: Request) -> None:
    """Authlib's :meth:`InsecureTransportError.check` of the request URL.

    :raises InsecureTransportError: plain HTTP to a host that is not loopback.
    """
    # Authlib's own switch, read on every request as Authlib reads it (and
    # never cached with the answer).
    if os.getenv("AUTHLIB_INSECURE_TRANSPORT"):
        return
    if not _secure_origin(request.scheme, request.host):
        raise InsecureTransportError()


class TokenRequest(FlaskOAuth2Request):  # type: ignore[misc]
    """A token request read from the body only."""

    def __init__(self, request: Request) -> None:
        # Authlib's FlaskOAuth2Request.__init__, which this replaces, builds
        # ``request.url`` (Werkzeug's IRI conversions), parses it again for
        # the insecure-transport check (``urlsplit``, ``ipaddress``) and
        # counts the headers (``headers or {}`` walks the WSGI environ), on
        # every request, though no token endpoint reads the URL. So: the
        # same check from the scheme and host, cached per origin; ``uri`` is
        # built only when read; the attributes are Authlib's own
        # (OAuth2Request.__init__; tests/test_token_request.py checks that
        # none is missing after an Authlib upgrade).
        check_transport(request)
        self.method = request.method
        self.headers = request.headers
        self._body = None
        self._request = request
        self.payload = BodyOnlyPayload(request)
        self.client = None
        self.auth_method = None
        self.user = None
        self.authorization_code = None
        self.refresh_token = None
        self.credential = None
        self._scope = None
        #: Set by the refresh grant when a grace period replays a response.
        self.replay_response: dict[str, Any] | None = None
        #: The request's accepted DPoP proof (RFC 9449), if it sent one.
        self.dpop: Proof | None = None

    @cached_property
    def form(self) -> MultiDict[str, str]:
        """The form body: the payload's (read once, see :class:`BodyOnlyPayload`)."""
        data: MultiDict[str, str] = self.payload.data
        return data

    @property
    def uri(self) -> str:
        """The request URL, as Authlib's request has it."""
        url: str = self._request.url
        return url


_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")

#: A control character (below U+0020), never part of a parameter.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f]")


def _quoted(name: str) -> str:
    """A parameter name fit for ``error_description`` (RFC 6749 §5.2 allows
    only some ASCII there, and Authlib raises on anything else)."""
    return f"'{name}'" if _PLAIN_NAME.fullmatch(name) else "a parameter"


def uses_basic(headers: Any) -> bool:
    """Whether the request tried HTTP Basic client authentication."""
    scheme = headers.get("Authorization", "").strip().partition(" ")[0]
    return bool(scheme.lower() == "basic")


def _form_decoded(value: str) -> str | None:
    """``value`` with ``application/x-www-form-urlencoded`` decoding undone
    (``+`` is a space, ``%XX`` a byte, the bytes UTF-8); ``None`` if the
    bytes are not UTF-8 or hold a NUL."""
    try:
        decoded = unquote_to_bytes(value.replace("+", " ")).decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if "\x00" in decoded else decoded


def basic_credentials(header: str) -> tuple[str, str] | None:
    """Decode ``Basic base64(id:secret)`` strictly; ``None`` if it is malformed.

    RFC 6749 §2.3.1: the client encodes the id and the secret with
    ``application/x-www-form-urlencoded`` before joining them with ``:``, so
    the server splits at the first ``:`` and then form-decodes each part.
    Credentials sent unencoded read the same as long as they hold neither
    ``%`` nor ``+`` — which every generated id (hex) and secret
    (``[A-Za-z0-9_-]``) does.
    """
    _scheme, _, value = header.partition(" ")
    try:
        joined = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    encoded_id, sep, encoded_secret = joined.partition(":")
    if not sep or "\x00" in joined:
        return None
    client_id = _form_decoded(encoded_id)
    secret = _form_decoded(encoded_secret)
    if not client_id or secret is None:
        return None
    return client_id, secret


def check_body_encoding(request: Request) -> None:
    """A form body is UTF-8, percent-decoded or not (W3C URL-encoded form
    parsing); Werkzeug would read an undecodable one as an empty form, or
    keep ``%FF`` as three literal characters. Reads the body once and keeps
    it for the form parser."""
    body = request.get_data(cache=True)
    try:
        unquote_to_bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequestError(
            "Malformed request body: it is not UTF-8 form data."
        ) from None


def check_form_request(request: Request) -> None:
    """Refuse what RFC 6749 §3.2 and §2.3 forbid before any grant or
    endpoint runs (token, revocation and introspection alike)."""
    if request.mimetype != "application/x-www-form-urlencoded":
        raise InvalidRequestError(
            "The token request must be 'application/x-www-form-urlencoded'."
        )
    # ``args`` parses the query string: not when there is none (the rule).
    for name in request.args if request.query_string else ():
        if name in _BODY_ONLY_PARAMETERS:
            raise InvalidRequestError(f"'{name}' must be sent in the request body.")
    check_body_encoding(request)
    form = request.form
    for name in form:
        values = form.getlist(name)
        if len(values) > 1 and name not in _REPEATABLE_PARAMETERS:
            raise InvalidRequestError(f"Repeated {_quoted(name)}.")
        if any(_CONTROL_CHARACTER.search(v) for v in values) or (
            _CONTROL_CHARACTER.search(name)
        ):
            raise InvalidRequestError(f"Invalid characters in {_quoted(name)}.")
    if "Authorization" in request.headers and "client_secret" in form:
        raise InvalidRequestError("Use one client authentication method only.")
