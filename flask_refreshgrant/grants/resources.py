"""Resource indicators (RFC 8707) in the grants: which resources a request
names, whether tokens may be issued for them, and the audience an access
token gets.

A grant (a token family) keeps the resources it was given for on its
refresh tokens (``resources``); an access token stores its audience
(``audience``) only when the grant has resources, so a grant without any
writes exactly the rows it always wrote. ``None`` in either column means the
default audience: ``OAUTH2_DEFAULT_RESOURCE``, else the issuer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from authlib.oauth2.rfc6749.errors import OAuth2Error

from ..config import Settings
from ..issuer import issuer_url
from ..resource_uris import acceptable, joined, split


class InvalidTargetError(OAuth2Error):  # type: ignore[misc]
    """RFC 8707 §2: a resource the server issues no tokens for, or one
    outside what the grant was given for."""

    error = "invalid_target"


def default_audience(settings: Settings) -> str:
    """``OAUTH2_DEFAULT_RESOURCE``, else the issuer (SPEC §10)."""
    return settings.default_resource or issuer_url(settings)


def audience_of(settings: Settings, stored: str | None) -> tuple[str, ...]:
    """A token's audience from its stored column (``None``: the default)."""
    return split(stored) or (default_audience(settings),)


def check_named(named: Sequence[str], settings: Settings, state: Any = None) -> None:
    """Every named resource must be one tokens are issued for."""
    for uri in named:
        if not acceptable(uri, settings.resources):
            raise InvalidTargetError(
                "The requested resource is invalid, unknown or not served here.",
                state=state,
            )


def token_request_resources(request: Any) -> tuple[str, ...]:
    """The ``resource`` parameters of a token request's body (repeatable)."""
    return tuple(dict.fromkeys(request.form.getlist("resource")))


def authorization_request_resources(request: Any) -> tuple[str, ...]:
    """The ``resource`` parameters of an authorization request."""
    return tuple(dict.fromkeys(request.payload.datalist.get("resource", [])))


@dataclasses.dataclass(frozen=True)
class Targets:
    """What a token response stores: the grant's resources (on its refresh
    tokens) and the access token's audience, each ``None`` for the default."""

    grant: str | None
    audience: str | None


def _narrowed(named: Sequence[str], granted: tuple[str, ...]) -> str | None:
    """The audience: what was named, within ``granted``, else all of it."""
    outside = [uri for uri in named if uri not in granted]
    if outside:
        raise InvalidTargetError(
            "The requested resource is outside what the grant was given for."
        )
    return joined(named or granted)


def for_new_grant(named: Sequence[str], authorized: str | None = None) -> Targets:
    """A fresh grant's targets. For a code: the resources of its
    authorization request, which the token request may narrow; a code that
    named none takes those of the token request (checked already)."""
    granted = split(authorized)
    if not granted:
        return Targets(grant=joined(named), audience=joined(named))
    return Targets(grant=joined(granted), audience=_narrowed(named, granted))


def for_refresh(
    named: Sequence[str], grant: str | None, settings: Settings
) -> str | None:
    """The audience of a refresh's access token: a subset of the grant's
    resources (RFC 8707 §2.2), else all of them. A grant given for no
    resource is for the default audience, and only that may be named."""
    granted = split(grant)
    if granted:
        return _narrowed(named, granted)
    # Only a named resource needs the default audience to be checked
    # against: the issuer, when it is the default, is built from the request
    # URL (Werkzeug's IRI conversions), a cost every refresh paid for nothing.
    if named:
        _narrowed(named, (default_audience(settings),))
    return None


class ResourceIndicators:
    """``resource`` at the authorization endpoint (RFC 8707 §2.1): an
    unacceptable one is ``invalid_target``, sent back to the client's
    redirect URI."""

    def __call__(self, grant: Any) -> None:
        grant.register_hook(
            "after_validate_authorization_request_payload", self.validate
        )

    def validate(self, grant: Any, redirect_uri: Any) -> None:
        request = grant.request
        check_named(
            authorization_request_resources(request),
            grant.server.settings,
            state=request.payload.state,
        )
