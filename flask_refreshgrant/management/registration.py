"""Checks of a client's registration, shared by the Python API and the CLI:
grant types, scopes, redirect URIs and per-client settings. A refused registration stores
nothing and raises :class:`~.errors.ClientRegistrationError`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..config import PER_CLIENT_SETTINGS, Settings, per_client_coercion
from ..dpop import jws
from ..errors import ClientRegistrationError, ConfigurationError
from ..redirect_uris import redirect_uri_problem
from ..resource_uris import joined, resource_uri_problem

#: The grant types a client can be registered for.
GRANT_TYPES = ("authorization_code", "refresh_token", "password", "client_credentials")

_PER_CLIENT = {s.name: s for s in PER_CLIENT_SETTINGS}


def check_grant_types(grant_types: Iterable[str], *, public: bool) -> list[str]:
    """Known grant types, once each; no ``client_credentials`` for a public
    client (RFC 6749 §4.4: it has no credentials to present)."""
    if isinstance(grant_types, str):
        raise ClientRegistrationError(
            f"grant_types must be a list of grant types, got {grant_types!r}"
        )
    chosen = list(dict.fromkeys(grant_types))
    unknown = [g for g in chosen if g not in GRANT_TYPES]
    if unknown:
        raise ClientRegistrationError(
            f"unknown grant type {unknown[0]!r}; choose from {', '.join(GRANT_TYPES)}"
        )
    if not chosen:
        raise ClientRegistrationError("a client needs at least one grant type")
    if public and "client_credentials" in chosen:
        raise ClientRegistrationError(
            "a public client cannot use client_credentials (RFC 6749 §4.4)"
        )
    return chosen


def check_scope(scope: str, settings: Settings) -> str:
    """The scopes, once each, all in ``OAUTH2_SCOPES_SUPPORTED`` if it is set."""
    scopes = list(dict.fromkeys(scope.split()))
    supported = settings.scopes_supported
    unknown = [s for s in scopes if supported and s not in supported]
    if unknown:
        raise ClientRegistrationError(
            f"scope not in OAUTH2_SCOPES_SUPPORTED: {' '.join(unknown)}"
        )
    return " ".join(scopes)


def check_redirect_uris(uris: Iterable[str], *, public: bool) -> list[str]:
    """The redirect URIs, once each, every one of them acceptable (see
    :func:`~.redirect_uris.redirect_uri_problem`): one bad URI refuses the
    registration."""
    if isinstance(uris, str):
        raise ClientRegistrationError(
            f"redirect_uris must be a list of URIs, got {uris!r}"
        )
    checked = list(dict.fromkeys(uris))
    for uri in checked:
        problem = redirect_uri_problem(uri, public=public)
        if problem is not None:
            raise ClientRegistrationError(f"{problem}: {uri!r}")
    return checked


def check_served_resources(uris: Iterable[str]) -> str | None:
    """The resources a resource server client serves (absolute URIs
    without a fragment, RFC 8707), as stored; ``None`` for none."""
    if isinstance(uris, str):
        raise ClientRegistrationError("serves_resources must be a list of URIs")
    checked = list(uris)
    for uri in checked:
        problem = resource_uri_problem(uri) if isinstance(uri, str) else "not a URI"
        if problem is not None:
            raise ClientRegistrationError(f"{problem}: {uri!r}")
    return joined(checked)


def check_client_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """Per-client setting columns by name; ``None`` inherits the app's value."""
    checked: dict[str, Any] = {}
    for name, value in values.items():
        setting = _PER_CLIENT.get(name)
        if setting is None:
            raise ClientRegistrationError(
                f"unknown client setting {name!r}; choose from {', '.join(_PER_CLIENT)}"
            )
        try:
            checked[name] = (
                None
                if value is None
                else per_client_coercion(setting).column_value(name, value)
            )
        except ConfigurationError as error:
            raise ClientRegistrationError(str(error)) from None
    if checked.get("dpop_bound_access_tokens") and not jws.AVAILABLE:
        raise ClientRegistrationError(
            "dpop_bound_access_tokens needs DPoP, which needs joserfc: "
            "pip install 'joserfc>=1.6'"
        )
    return checked
