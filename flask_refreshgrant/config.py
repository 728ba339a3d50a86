"""The settings table, and the validated :class:`Settings` read from ``app.config``.

:data:`SETTINGS` is the one place a setting is declared: its ``app.config``
key, its name (an attribute of :class:`Settings` or :class:`TokenPolicy`,
and for a per-client setting also the client model's column and the
``create-client`` option), its default and its coercion. Defaults,
validation, the per-client policy, the client columns, the CLI options and
the README's table are all derived from it.

Every key is read once, at ``init_app``. Values that came from the
environment as strings (``"86400"``, ``"true"``) are accepted when they parse
cleanly; anything else raises :class:`~.errors.ConfigurationError` naming the
key and the value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from .errors import ConfigurationError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_NONE = {"", "none", "null"}


def _fail(key: str, value: object, expected: str) -> ConfigurationError:
    return ConfigurationError(f"{key} must be {expected}, got {value!r}.")


@dataclasses.dataclass(frozen=True)
class Seconds:
    """A whole number of seconds: an ``int`` (never a ``bool``) or a string
    holding one.

    With ``unlimited_below_zero``, a negative value means "no limit" and is
    read as ``None``; with ``optional``, ``None`` (or ``"none"``) is accepted
    and means the same.
    """

    minimum: int = 0
    unlimited_below_zero: bool = False
    optional: bool = False
    #: The type of a per-client column holding this setting.
    python_type: type = int

    def __call__(self, key: str, value: object) -> int | None:
        if self.optional and (
            value is None or (isinstance(value, str) and value.strip().lower() in _NONE)
        ):
            return None
        if type(value) is int:
            number = value
        elif isinstance(value, str):
            try:
                number = int(value.strip(), 10)
            except ValueError:
                raise _fail(key, value, "a whole number of seconds") from None
        else:
            raise _fail(key, value, "a whole number of seconds")
        if number < 0 and self.unlimited_below_zero:
            return None
        if number < self.minimum:
            expected = "a positive" if self.minimum > 0 else "zero or a positive"
            raise _fail(key, value, f"{expected} number of seconds")
        return number

    def from_column(self, value: int) -> int | None:
        """A per-client column's value as the policy holds it."""
        return None if value < 0 and self.unlimited_below_zero else value

    def column_value(self, name: str, value: object) -> int:
        """Check a value for a per-client column (where ``-1`` stays ``-1``:
        ``None`` there means "inherit")."""
        if type(value) is not int or (
            value < self.minimum and not self.unlimited_below_zero
        ):
            expected = "a whole number of seconds"
            if not self.unlimited_below_zero:
                expected += f" >= {self.minimum}"
            raise _fail(name, value, expected)
        return value


@dataclasses.dataclass(frozen=True)
class Flag:
    """A ``bool`` or one of the strings ``true/false/1/0/yes/no/on/off``."""

    python_type: type = bool

    def __call__(self, key: str, value: object) -> bool:
        if type(value) is bool:
            return value
        if isinstance(value, str):
            text = value.strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
        raise _fail(key, value, "true or false")

    def from_column(self, value: bool) -> bool:
        return value

    def column_value(self, name: str, value: object) -> bool:
        if type(value) is not bool:
            raise _fail(name, value, "true or false")
        return value


def _scopes(key: str, value: object) -> tuple[str, ...] | None:
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


def _path_prefix(key: str, value: object) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise _fail(key, value, "a path starting with '/'")
    return value.rstrip("/")


def _optional_path(key: str, value: object) -> str | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in _NONE):
        return None
    if (
        not isinstance(value, str)
        or not value.startswith("/")
        or value.strip() != value
    ):
        raise _fail(key, value, "None or a path starting with '/'")
    return value.rstrip("/") or "/"


def _issuer(key: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise _fail(key, value, "None or an http(s) URL")
    return value.rstrip("/")


#: What a per-client setting's coercion also knows: its column's type and how
#: a column value reads as policy.
PerClientCoercion = Seconds | Flag


@dataclasses.dataclass(frozen=True)
class Setting:
    """One configuration key."""

    #: The ``app.config`` key.
    key: str
    #: The attribute of :class:`TokenPolicy` (per-client settings) or of
    #: :class:`Settings`; for a per-client setting also the client column.
    name: str
    default: Any
    coerce: Callable[[str, object], Any]
    #: What the README's table says under "unit".
    unit: str
    #: One line for the README and ``--help``.
    doc: str
    #: Overridable per client (a nullable column of the client model).
    per_client: bool = False
    #: A per-client setting's ``create-client`` option, when not ``name``
    #: with dashes (a flag gets its ``--no-`` twin).
    option: str = ""

    @property
    def cli_option(self) -> str:
        """The ``create-client`` option of a per-client setting, without ``--``."""
        return self.option or self.name.replace("_", "-")


#: Every setting, in the order the README's table lists them.
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "OAUTH2_REFRESH_TOKEN_VALIDITY_PERIOD",
        "refresh_token_validity_period",
        86400,
        Seconds(unlimited_below_zero=True),
        "seconds",
        "how long a refresh token is valid after it is issued; negative: never "
        "expires (WSO2 `RefreshTokenValidityPeriod`)",
        per_client=True,
    ),
    Setting(
        "OAUTH2_RENEW_REFRESH_TOKEN_FOR_REFRESH_GRANT",
        "renew_refresh_token",
        True,
        Flag(),
        "flag",
        "rotate: each refresh issues a new refresh token and the presented one "
        "is inactive at once; `False`: the same refresh token is returned, "
        "untouched, until it expires. Public clients always rotate (RFC 9700 "
        "§2.2.2) (WSO2 `RenewRefreshTokenForRefreshGrant`)",
        per_client=True,
        option="renew",
    ),
    Setting(
        "OAUTH2_EXTEND_RENEWED_REFRESH_TOKEN_EXPIRY_TIME",
        "extend_renewed_refresh_token_expiry",
        True,
        Flag(),
        "flag",
        "a renewed refresh token gets a fresh full validity period (sliding); "
        "`False`: it keeps the expiry of the token it replaces",
        per_client=True,
        option="extend-renewed-expiry",
    ),
    Setting(
        "OAUTH2_REFRESH_TOKEN_ABSOLUTE_LIFETIME",
        "refresh_token_absolute_lifetime",
        None,
        Seconds(unlimited_below_zero=True, optional=True),
        "seconds",
        "cap from the grant's first refresh token that no renewal extends; "
        "`None` or negative: no cap",
        per_client=True,
    ),
    Setting(
        "OAUTH2_ACCESS_TOKEN_VALIDITY_PERIOD",
        "access_token_validity_period",
        3600,
        Seconds(minimum=1),
        "seconds",
        "how long an access token is valid (must be positive)",
        per_client=True,
    ),
    Setting(
        "OAUTH2_REFRESH_TOKEN_REUSE_DETECTION",
        "refresh_token_reuse_detection",
        True,
        Flag(),
        "flag",
        "a rotated-out refresh token presented again revokes every refresh and "
        "access token of its family and fires `refresh_token_reuse_detected`",
        per_client=True,
        option="reuse-detection",
    ),
    Setting(
        "OAUTH2_REFRESH_TOKEN_GRACE_PERIOD",
        "refresh_token_grace_period",
        0,
        Seconds(),
        "seconds",
        "after a rotation, the just-rotated refresh token presented again by "
        "the same client gets the identical response its first use got; closes "
        "early once the successor is used; never for revoked tokens. Needs "
        "`SECRET_KEY`",
        per_client=True,
        option="grace-period",
    ),
    Setting(
        "OAUTH2_URL_PREFIX",
        "url_prefix",
        "/oauth2",
        _path_prefix,
        "path",
        "where the endpoints are mounted",
    ),
    Setting(
        "OAUTH2_SCOPES_SUPPORTED",
        "scopes_supported",
        None,
        _scopes,
        "list",
        "scopes the server knows (list or space-separated string); `None`: any "
        "scope a client is registered for",
    ),
    Setting(
        "OAUTH2_ISSUER",
        "issuer",
        None,
        _issuer,
        "URL",
        "issuer for metadata; `None`: derived from the request",
    ),
    Setting(
        "OAUTH2_METRICS_PATH",
        "metrics_path",
        None,
        _optional_path,
        "path",
        "where Prometheus metrics are served (needs the `metrics` extra, "
        "`prometheus_client`); `None`: no metrics",
    ),
)

#: The settings a client can override, in table order.
PER_CLIENT_SETTINGS: tuple[Setting, ...] = tuple(s for s in SETTINGS if s.per_client)

#: Every key with its default.
DEFAULTS: Mapping[str, Any] = {s.key: s.default for s in SETTINGS}


def per_client_coercion(setting: Setting) -> PerClientCoercion:
    """The coercion of a per-client setting, which knows its column type."""
    assert isinstance(setting.coerce, Seconds | Flag), setting.key
    return setting.coerce


@dataclasses.dataclass(frozen=True)
class TokenPolicy:
    """Lifetime and rotation rules in force for one client: one field per
    per-client setting of :data:`SETTINGS`."""

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
    """The extension's configuration for one app, validated at ``init_app``:
    :attr:`policy` holds the per-client settings, the other fields the rest."""

    policy: TokenPolicy
    url_prefix: str
    scopes_supported: tuple[str, ...] | None
    issuer: str | None
    #: Where Prometheus metrics are served, or ``None``: no metrics.
    metrics_path: str | None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Read and validate every key; missing keys take their default."""
        values = {
            s.name: s.coerce(s.key, config.get(s.key, s.default)) for s in SETTINGS
        }
        policy = TokenPolicy(
            **{s.name: values.pop(s.name) for s in PER_CLIENT_SETTINGS}
        )
        return cls(policy=policy, **values)

    def policy_for(self, client: object) -> TokenPolicy:
        """The app's policy with the client's non-null columns laid over it.

        A negative per-client validity period or absolute lifetime means
        "never expires" / "no cap", as the app-level keys do.
        """
        overrides: dict[str, Any] = {}
        for setting in PER_CLIENT_SETTINGS:
            value = getattr(client, setting.name)
            if value is not None:
                overrides[setting.name] = per_client_coercion(setting).from_column(
                    value
                )
        if not overrides:
            return self.policy
        return dataclasses.replace(self.policy, **overrides)
