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

from .coercion import (
    Count,
    Flag,
    PerClientCoercion,
    Seconds,
    issuer_url,
    optional_path,
    optional_resource,
    path_prefix,
    registration_mode,
    resource_list,
    scope_list,
)
from .dpop.jws import algorithm_list


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
        path_prefix,
        "path",
        "where the endpoints are mounted",
    ),
    Setting(
        "OAUTH2_SCOPES_SUPPORTED",
        "scopes_supported",
        None,
        scope_list,
        "list",
        "scopes the server knows (list or space-separated string); `None`: any "
        "scope a client is registered for",
    ),
    Setting(
        "OAUTH2_ISSUER",
        "issuer",
        None,
        issuer_url,
        "URL",
        "issuer for metadata and the `iss` of authorization responses; `None`: "
        "derived from the request (logged as a warning outside debug and testing)",
    ),
    Setting(
        "OAUTH2_PASSWORD_MAX_FAILURES",
        "password_max_failures",
        5,
        Count(maximum=1000),
        "count",
        "consecutive failed password checks for one username (password grant "
        "and `check_password`) before it is locked; `0` turns the lock off",
    ),
    Setting(
        "OAUTH2_PASSWORD_LOCKOUT_SECONDS",
        "password_lockout_seconds",
        60,
        Seconds(minimum=1),
        "seconds",
        "how long the first lock of a username lasts; each further lock doubles it",
    ),
    Setting(
        "OAUTH2_PASSWORD_MAX_LOCKOUT_SECONDS",
        "password_max_lockout_seconds",
        900,
        Seconds(minimum=1),
        "seconds",
        "the longest a lock can last (the cap of the doubling)",
    ),
    Setting(
        "OAUTH2_DPOP_SIGNING_ALG_VALUES",
        "dpop_signing_alg_values",
        ["ES256", "EdDSA", "RS256", "PS256"],
        algorithm_list,
        "list",
        "JWS algorithms a DPoP proof may use (asymmetric only; RFC 9449); "
        "empty: DPoP off",
    ),
    Setting(
        "OAUTH2_DPOP_PROOF_MAX_AGE",
        "dpop_proof_max_age",
        60,
        Seconds(minimum=1),
        "seconds",
        "how far a DPoP proof's `iat` may lie in the past (5 seconds into the "
        "future are tolerated)",
    ),
    Setting(
        "OAUTH2_DPOP_REQUIRE_NONCE",
        "dpop_require_nonce",
        False,
        Flag(),
        "flag",
        "DPoP proofs must carry a server nonce (`use_dpop_nonce` and a "
        "`DPoP-Nonce` header otherwise); nonces are stateless, derived from "
        "`SECRET_KEY` and the time, so every instance accepts every other's. "
        "Needs `SECRET_KEY`",
    ),
    Setting(
        "OAUTH2_DPOP_BOUND_ACCESS_TOKENS",
        "dpop_bound_access_tokens",
        False,
        Flag(),
        "flag",
        "every token request must carry a DPoP proof (`invalid_dpop_proof` "
        "otherwise), so every access token is DPoP-bound (RFC 9449 §5.2)",
        per_client=True,
        option="dpop-bound",
    ),
    Setting(
        "OAUTH2_METRICS_PATH",
        "metrics_path",
        None,
        optional_path,
        "path",
        "where Prometheus metrics are served (needs the `metrics` extra, "
        "`prometheus_client`); `None`: no metrics",
    ),
    Setting(
        "OAUTH2_MAX_BODY_BYTES",
        "max_body_bytes",
        16 * 1024,
        Count(minimum=1024, maximum=16 * 1024 * 1024, unit="of bytes"),
        "bytes",
        "largest request body the extension's endpoints read, with or without "
        "`Content-Length`, chunked included; a larger one is refused (`413`), "
        "never cut",
    ),
    Setting(
        "OAUTH2_DEFAULT_RESOURCE",
        "default_resource",
        None,
        optional_resource,
        "URI",
        "the audience of a token whose request named no resource; `None`: the issuer",
    ),
    Setting(
        "OAUTH2_RESOURCES",
        "resources",
        None,
        resource_list,
        "list",
        "the resources (RFC 8707) tokens are issued for; `None`: any `https` "
        "URI or `http` loopback URI; anything else is `invalid_target`",
    ),
    Setting(
        "OAUTH2_DYNAMIC_REGISTRATION",
        "dynamic_registration",
        False,
        registration_mode,
        "mode",
        "dynamic client registration (RFC 7591) at `{prefix}/register`: "
        '`False` (off), `"open"`, or `"token"` (an initial access token from '
        "`flask oauth2 registration-token create` is needed)",
    ),
    Setting(
        "OAUTH2_REGISTRATION_RATE_LIMIT",
        "registration_rate_limit",
        20,
        Count(maximum=1_000_000),
        "count",
        "dynamic registrations one client address may make per hour (then "
        "`429` with `Retry-After`); `0`: no limit",
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
    """Lifetime, rotation and DPoP rules in force for one client: one field
    per per-client setting of :data:`SETTINGS`."""

    #: Seconds, or ``None``: refresh tokens never expire.
    refresh_token_validity_period: int | None
    renew_refresh_token: bool
    extend_renewed_refresh_token_expiry: bool
    #: Seconds from the family's first refresh token, or ``None``: no cap.
    refresh_token_absolute_lifetime: int | None
    access_token_validity_period: int
    refresh_token_reuse_detection: bool
    refresh_token_grace_period: int
    #: Every token request must carry a DPoP proof (RFC 9449 §5.2).
    dpop_bound_access_tokens: bool


@dataclasses.dataclass(frozen=True)
class Settings:
    """The extension's configuration for one app, validated at ``init_app``:
    :attr:`policy` holds the per-client settings, the other fields the rest."""

    policy: TokenPolicy
    url_prefix: str
    scopes_supported: tuple[str, ...] | None
    issuer: str | None
    #: Password guessing (RFC 6749 §4.3.2): see ``grants/lockout.py``.
    password_max_failures: int
    password_lockout_seconds: int
    password_max_lockout_seconds: int
    #: Empty: DPoP is off.
    dpop_signing_alg_values: tuple[str, ...]
    dpop_proof_max_age: int
    dpop_require_nonce: bool
    #: Where Prometheus metrics are served, or ``None``: no metrics.
    metrics_path: str | None
    #: Largest request body read (SPEC §13).
    max_body_bytes: int
    #: The audience of a token that named no resource; ``None``: the issuer.
    default_resource: str | None = None
    #: ``OAUTH2_RESOURCES`` (RFC 8707); ``None``: any https or loopback URI.
    resources: tuple[str, ...] | None = None
    #: ``"open"``, ``"token"``, or ``None``: no dynamic registration.
    dynamic_registration: str | None = None
    #: Registrations per client address and hour; ``0``: unlimited.
    registration_rate_limit: int = 20

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
