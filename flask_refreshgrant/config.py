"""Configuration keys, their defaults, and the validated :class:`Settings`.

Every key is read once, at ``init_app``, from ``app.config``. Values that came
from the environment as strings (``"86400"``, ``"true"``) are accepted when
they parse cleanly; anything else raises :class:`~.errors.ConfigurationError`
naming the key and the value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Protocol

from .errors import ConfigurationError

#: Seconds a refresh token is valid after it is issued. Negative: never expires.
#: WSO2: ``RefreshTokenValidityPeriod``.
REFRESH_TOKEN_VALIDITY_PERIOD = "OAUTH2_REFRESH_TOKEN_VALIDITY_PERIOD"
#: Rotate: each refresh issues a new refresh token and the presented one is
#: inactive at once. WSO2: ``RenewRefreshTokenForRefreshGrant``.
RENEW_REFRESH_TOKEN = "OAUTH2_RENEW_REFRESH_TOKEN_FOR_REFRESH_GRANT"
#: A renewed refresh token gets a fresh full validity period (sliding);
#: ``False``: it keeps the expiry of the token it replaces.
EXTEND_RENEWED_EXPIRY = "OAUTH2_EXTEND_RENEWED_REFRESH_TOKEN_EXPIRY_TIME"
#: Cap in seconds, from the grant's first refresh token, that no renewal can
#: extend. ``None`` (or negative): no cap.
REFRESH_TOKEN_ABSOLUTE_LIFETIME = "OAUTH2_REFRESH_TOKEN_ABSOLUTE_LIFETIME"
#: Seconds an access token is valid.
ACCESS_TOKEN_VALIDITY_PERIOD = "OAUTH2_ACCESS_TOKEN_VALIDITY_PERIOD"
#: Presenting a rotated-out refresh token revokes its whole family.
REFRESH_TOKEN_REUSE_DETECTION = "OAUTH2_REFRESH_TOKEN_REUSE_DETECTION"
#: Seconds after a rotation during which a retry gets the identical response.
REFRESH_TOKEN_GRACE_PERIOD = "OAUTH2_REFRESH_TOKEN_GRACE_PERIOD"
#: Where the blueprint's endpoints are mounted.
URL_PREFIX = "OAUTH2_URL_PREFIX"
#: List of scopes the server knows; ``None`` allows any scope a client has.
SCOPES_SUPPORTED = "OAUTH2_SCOPES_SUPPORTED"
#: Issuer URL for metadata; ``None`` derives it from the request.
ISSUER = "OAUTH2_ISSUER"

#: Every key with its default, in the order the README's table lists them.
DEFAULTS: Mapping[str, Any] = {
    REFRESH_TOKEN_VALIDITY_PERIOD: 86400,
    RENEW_REFRESH_TOKEN: True,
    EXTEND_RENEWED_EXPIRY: True,
    REFRESH_TOKEN_ABSOLUTE_LIFETIME: None,
    ACCESS_TOKEN_VALIDITY_PERIOD: 3600,
    REFRESH_TOKEN_REUSE_DETECTION: True,
    REFRESH_TOKEN_GRACE_PERIOD: 0,
    URL_PREFIX: "/oauth2",
    SCOPES_SUPPORTED: None,
    ISSUER: None,
}

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _fail(key: str, value: object, expected: str) -> ConfigurationError:
    return ConfigurationError(f"{key} must be {expected}, got {value!r}.")


def coerce_int(key: str, value: object, *, allow_negative: bool) -> int:
    """An ``int`` (not a ``bool``) or a string holding one."""
    if type(value) is int:
        number = value
    elif isinstance(value, str):
        try:
            number = int(value.strip(), 10)
        except ValueError:
            raise _fail(key, value, "a whole number of seconds") from None
    else:
        raise _fail(key, value, "a whole number of seconds")
    if number < 0 and not allow_negative:
        raise _fail(key, value, "zero or a positive number of seconds")
    return number


def coerce_bool(key: str, value: object) -> bool:
    """A ``bool`` or one of the strings ``true/false/1/0/yes/no/on/off``."""
    if type(value) is bool:
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise _fail(key, value, "true or false")


def _coerce_optional_lifetime(key: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in {"", "none", "null"}:
        return None
    number = coerce_int(key, value, allow_negative=True)
    return None if number < 0 else number


def _coerce_scopes(key: str, value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        items: list[object] = list(value.split())
    elif isinstance(value, list | tuple | set | frozenset):
        items = list(value)
    else:
        raise _fail(
            key, value, "None, a list of scope strings or a space-separated string"
        )
    if not all(isinstance(s, str) and s and s.split() == [s] for s in items):
        raise _fail(key, value, "a list of non-empty scope strings without spaces")
    return tuple(dict.fromkeys(str(s) for s in items))


def _coerce_prefix(key: str, value: object) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise _fail(key, value, "a path starting with '/'")
    return value.rstrip("/")


def _coerce_issuer(key: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise _fail(key, value, "None or an http(s) URL")
    return value.rstrip("/")


class ClientOverrides(Protocol):
    """The nullable per-client columns that override the app's settings."""

    refresh_token_validity_period: int | None
    renew_refresh_token: bool | None
    extend_renewed_refresh_token_expiry: bool | None
    refresh_token_absolute_lifetime: int | None
    access_token_validity_period: int | None
    refresh_token_reuse_detection: bool | None
    refresh_token_grace_period: int | None


@dataclasses.dataclass(frozen=True)
class TokenPolicy:
    """Lifetime and rotation rules in force for one client."""

    #: Seconds, or ``None``: refresh tokens never expire.
    refresh_token_validity_period: int | None
    renew_refresh_token: bool
    extend_renewed_refresh_token_expiry: bool
    #: Seconds from the family's first refresh token, or ``None``: no cap.
    refresh_token_absolute_lifetime: int | None
    access_token_validity_period: int
    refresh_token_reuse_detection: bool
    refresh_token_grace_period: int


@dataclasses.dataclass(frozen=True)
class Settings:
    """The extension's configuration for one app, validated at ``init_app``."""

    policy: TokenPolicy
    url_prefix: str
    scopes_supported: tuple[str, ...] | None
    issuer: str | None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Read and validate every key; missing keys take their default."""

        def get(key: str) -> Any:
            return config.get(key, DEFAULTS[key])

        validity = coerce_int(
            REFRESH_TOKEN_VALIDITY_PERIOD,
            get(REFRESH_TOKEN_VALIDITY_PERIOD),
            allow_negative=True,
        )
        policy = TokenPolicy(
            refresh_token_validity_period=None if validity < 0 else validity,
            renew_refresh_token=coerce_bool(
                RENEW_REFRESH_TOKEN, get(RENEW_REFRESH_TOKEN)
            ),
            extend_renewed_refresh_token_expiry=coerce_bool(
                EXTEND_RENEWED_EXPIRY, get(EXTEND_RENEWED_EXPIRY)
            ),
            refresh_token_absolute_lifetime=_coerce_optional_lifetime(
                REFRESH_TOKEN_ABSOLUTE_LIFETIME, get(REFRESH_TOKEN_ABSOLUTE_LIFETIME)
            ),
            access_token_validity_period=coerce_int(
                ACCESS_TOKEN_VALIDITY_PERIOD,
                get(ACCESS_TOKEN_VALIDITY_PERIOD),
                allow_negative=False,
            ),
            refresh_token_reuse_detection=coerce_bool(
                REFRESH_TOKEN_REUSE_DETECTION, get(REFRESH_TOKEN_REUSE_DETECTION)
            ),
            refresh_token_grace_period=coerce_int(
                REFRESH_TOKEN_GRACE_PERIOD,
                get(REFRESH_TOKEN_GRACE_PERIOD),
                allow_negative=False,
            ),
        )
        if policy.access_token_validity_period == 0:
            raise _fail(ACCESS_TOKEN_VALIDITY_PERIOD, 0, "a positive number of seconds")
        return cls(
            policy=policy,
            url_prefix=_coerce_prefix(URL_PREFIX, get(URL_PREFIX)),
            scopes_supported=_coerce_scopes(SCOPES_SUPPORTED, get(SCOPES_SUPPORTED)),
            issuer=_coerce_issuer(ISSUER, get(ISSUER)),
        )

    def policy_for(self, client: ClientOverrides) -> TokenPolicy:
        """The app's policy with the client's non-null columns laid over it.

        A negative per-client validity period or absolute lifetime means
        "never expires" / "no cap", as the app-level keys do.
        """
        app = self.policy

        def lifetime(value: int | None, default: int | None) -> int | None:
            if value is None:
                return default
            return None if value < 0 else value

        def pick(value: Any, default: Any) -> Any:
            return default if value is None else value

        return TokenPolicy(
            refresh_token_validity_period=lifetime(
                client.refresh_token_validity_period, app.refresh_token_validity_period
            ),
            renew_refresh_token=pick(
                client.renew_refresh_token, app.renew_refresh_token
            ),
            extend_renewed_refresh_token_expiry=pick(
                client.extend_renewed_refresh_token_expiry,
                app.extend_renewed_refresh_token_expiry,
            ),
            refresh_token_absolute_lifetime=lifetime(
                client.refresh_token_absolute_lifetime,
                app.refresh_token_absolute_lifetime,
            ),
            access_token_validity_period=pick(
                client.access_token_validity_period, app.access_token_validity_period
            ),
            refresh_token_reuse_detection=pick(
                client.refresh_token_reuse_detection,
                app.refresh_token_reuse_detection,
            ),
            refresh_token_grace_period=pick(
                client.refresh_token_grace_period, app.refresh_token_grace_period
            ),
        )
