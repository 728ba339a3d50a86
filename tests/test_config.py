"""Settings: every key's default, coercion of environment strings, and errors
that name the key and the value."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_refreshgrant import ConfigurationError, RefreshGrant
from flask_refreshgrant.cli import group as cli
from flask_refreshgrant.coercion import Flag
from flask_refreshgrant.config import (
    DEFAULTS,
    PER_CLIENT_SETTINGS,
    SETTINGS,
    Settings,
    TokenPolicy,
    per_client_coercion,
)
from flask_refreshgrant.models import default_models


def test_defaults() -> None:
    settings = Settings.from_config({})
    assert settings.policy == TokenPolicy(
        refresh_token_validity_period=86400,
        renew_refresh_token=True,
        extend_renewed_refresh_token_expiry=True,
        refresh_token_absolute_lifetime=None,
        access_token_validity_period=3600,
        refresh_token_reuse_detection=True,
        refresh_token_grace_period=0,
        dpop_bound_access_tokens=False,
        access_token_format="opaque",
    )
    assert settings.url_prefix == "/oauth2"
    assert settings.scopes_supported is None
    assert settings.issuer is None
    assert settings.dpop_signing_alg_values == ("ES256", "EdDSA", "RS256", "PS256")
    assert settings.dpop_proof_max_age == 60
    assert settings.dpop_require_nonce is False
    assert settings.metrics_path is None
    assert settings.signing_alg == "ES256"
    assert settings.default_resource is None
    assert settings.id_token_validity_period == 3600
    assert settings.oidc_refresh_requires_offline_access is False


def test_init_app_sets_every_default_in_app_config() -> None:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
    db = SQLAlchemy(app)
    RefreshGrant().init_app(app, db=db, load_user=lambda user_id: None)
    for key, default in DEFAULTS.items():
        assert app.config[key] == default


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("OAUTH2_REFRESH_TOKEN_VALIDITY_PERIOD", "60", 60),
        ("OAUTH2_REFRESH_TOKEN_VALIDITY_PERIOD", " 86400 ", 86400),
        ("OAUTH2_REFRESH_TOKEN_VALIDITY_PERIOD", -1, None),
        ("OAUTH2_REFRESH_TOKEN_VALIDITY_PERIOD", "-1", None),
        ("OAUTH2_ACCESS_TOKEN_VALIDITY_PERIOD", "120", 120),
        ("OAUTH2_REFRESH_TOKEN_GRACE_PERIOD", "0", 0),
        ("OAUTH2_REFRESH_TOKEN_ABSOLUTE_LIFETIME", "3600", 3600),
        ("OAUTH2_REFRESH_TOKEN_ABSOLUTE_LIFETIME", "none", None),
        ("OAUTH2_REFRESH_TOKEN_ABSOLUTE_LIFETIME", -5, None),
        ("OAUTH2_RENEW_REFRESH_TOKEN_FOR_REFRESH_GRANT", "false", False),
        ("OAUTH2_RENEW_REFRESH_TOKEN_FOR_REFRESH_GRANT", "False", False),
        ("OAUTH2_RENEW_REFRESH_TOKEN_FOR_REFRESH_GRANT", "true", True),
        ("OAUTH2_RENEW_REFRESH_TOKEN_FOR_REFRESH_GRANT", "0", False),
        ("OAUTH2_EXTEND_RENEWED_REFRESH_TOKEN_EXPIRY_TIME", "off", False),
        ("OAUTH2_REFRESH_TOKEN_REUSE_DETECTION", "yes", True),
    ],
)
def test_strings_from_the_environment_are_coerced(
    key: str, value: object, expected: object
) -> None:
    policy = Settings.from_config({key: value}).policy
    field = next(setting.name for setting in SETTINGS if setting.key == key)
    assert getattr(policy, field) == expected


def test_scopes_and_prefix_and_issuer() -> None:
    settings = Settings.from_config(
        {
            "OAUTH2_SCOPES_SUPPORTED": "PRODUCTION SANDBOX",
            "OAUTH2_URL_PREFIX": "/auth/",
            "OAUTH2_ISSUER": "https://id.example.com/",
        }
    )
    assert settings.scopes_supported == ("PRODUCTION", "SANDBOX")
    assert settings.url_prefix == "/auth"
    assert settings.issuer == "https://id.example.com"
    for path, expected in [("/metrics", "/metrics"), ("/m/", "/m"), ("none", None)]:
        metrics = Settings.from_config({"OAUTH2_METRICS_PATH": path}).metrics_path
        assert metrics == expected, path
    assert Settings.from_config(
        {"OAUTH2_SCOPES_SUPPORTED": ["A", "B"]}
    ).scopes_supported == (
        "A",
        "B",
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("OAUTH2_REFRESH_TOKEN_VALIDITY_PERIOD", True),  # a bool is not one second
        ("OAUTH2_REFRESH_TOKEN_VALIDITY_PERIOD", 1.5),
        ("OAUTH2_REFRESH_TOKEN_VALIDITY_PERIOD", "a day"),
        ("OAUTH2_REFRESH_TOKEN_VALIDITY_PERIOD", None),
        ("OAUTH2_ACCESS_TOKEN_VALIDITY_PERIOD", -1),
        ("OAUTH2_ACCESS_TOKEN_VALIDITY_PERIOD", 0),
        ("OAUTH2_ACCESS_TOKEN_VALIDITY_PERIOD", "12.5"),
        ("OAUTH2_REFRESH_TOKEN_GRACE_PERIOD", -30),
        ("OAUTH2_REFRESH_TOKEN_ABSOLUTE_LIFETIME", False),
        ("OAUTH2_REFRESH_TOKEN_ABSOLUTE_LIFETIME", "forever"),
        ("OAUTH2_RENEW_REFRESH_TOKEN_FOR_REFRESH_GRANT", "maybe"),
        ("OAUTH2_RENEW_REFRESH_TOKEN_FOR_REFRESH_GRANT", 1),
        ("OAUTH2_RENEW_REFRESH_TOKEN_FOR_REFRESH_GRANT", None),
        ("OAUTH2_EXTEND_RENEWED_REFRESH_TOKEN_EXPIRY_TIME", "2"),
        ("OAUTH2_REFRESH_TOKEN_REUSE_DETECTION", 0),
        ("OAUTH2_SCOPES_SUPPORTED", 42),
        ("OAUTH2_SCOPES_SUPPORTED", ["A B"]),
        ("OAUTH2_SCOPES_SUPPORTED", ["A", ""]),
        ("OAUTH2_SCOPES_SUPPORTED", {"A": 1}),
        ("OAUTH2_URL_PREFIX", "oauth2"),
        ("OAUTH2_URL_PREFIX", None),
        ("OAUTH2_ISSUER", "id.example.com"),
        ("OAUTH2_METRICS_PATH", "metrics"),
        ("OAUTH2_METRICS_PATH", "/metrics "),
        ("OAUTH2_METRICS_PATH", True),
    ],
)
def test_bad_values_raise_an_error_naming_key_and_value(key: str, value: Any) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_config({key: value})
    assert key in str(raised.value)
    assert repr(value) in str(raised.value)


def test_bad_value_fails_at_init_app() -> None:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
    app.config["OAUTH2_REFRESH_TOKEN_VALIDITY_PERIOD"] = "soon"
    db = SQLAlchemy(app)
    with pytest.raises(
        ConfigurationError, match="OAUTH2_REFRESH_TOKEN_VALIDITY_PERIOD"
    ):
        RefreshGrant().init_app(app, db=db, load_user=lambda user_id: None)
    assert "refreshgrant" not in app.extensions


def _client(**overrides: Any) -> Any:
    columns: dict[str, Any] = {s.name: None for s in PER_CLIENT_SETTINGS}
    columns.update(overrides)
    return SimpleNamespace(**columns)


def test_client_columns_override_the_app_policy() -> None:
    settings = Settings.from_config({"OAUTH2_REFRESH_TOKEN_ABSOLUTE_LIFETIME": 7200})
    assert settings.policy_for(_client()) == settings.policy
    policy = settings.policy_for(
        _client(
            refresh_token_validity_period=60,
            renew_refresh_token=False,
            extend_renewed_refresh_token_expiry=False,
            access_token_validity_period=30,
            refresh_token_reuse_detection=False,
            refresh_token_grace_period=10,
            dpop_bound_access_tokens=True,
            access_token_format="jwt",
        )
    )
    assert policy == TokenPolicy(
        refresh_token_validity_period=60,
        renew_refresh_token=False,
        extend_renewed_refresh_token_expiry=False,
        refresh_token_absolute_lifetime=7200,
        access_token_validity_period=30,
        refresh_token_reuse_detection=False,
        refresh_token_grace_period=10,
        dpop_bound_access_tokens=True,
        access_token_format="jwt",
    )


def test_negative_client_lifetimes_mean_never_and_no_cap() -> None:
    settings = Settings.from_config({"OAUTH2_REFRESH_TOKEN_ABSOLUTE_LIFETIME": 7200})
    policy = settings.policy_for(
        _client(refresh_token_validity_period=-1, refresh_token_absolute_lifetime=-1)
    )
    assert policy.refresh_token_validity_period is None
    assert policy.refresh_token_absolute_lifetime is None


# -- the settings table drives the rest -----------------------------------------


def test_token_policy_has_one_field_per_per_client_setting() -> None:
    fields = [f.name for f in dataclasses.fields(TokenPolicy)]
    assert fields == [s.name for s in PER_CLIENT_SETTINGS]


def test_settings_has_one_field_per_app_wide_setting() -> None:
    fields = [f.name for f in dataclasses.fields(Settings)]
    assert fields == ["policy"] + [s.name for s in SETTINGS if not s.per_client]


def test_every_per_client_setting_is_a_nullable_client_column() -> None:
    table = default_models(SQLAlchemy()).client.__table__
    for setting in PER_CLIENT_SETTINGS:
        column = table.c[setting.name]
        assert column.nullable, setting.name
        python_type = per_client_coercion(setting).python_type
        assert column.type.python_type is python_type, setting.name


def test_create_client_has_an_option_per_per_client_setting() -> None:
    options = {
        option
        for param in cli.create_client.params
        for option in (*param.opts, *param.secondary_opts)
    }
    for setting in PER_CLIENT_SETTINGS:
        assert f"--{setting.cli_option}" in options, setting.name
        if isinstance(setting.coerce, Flag):
            assert f"--no-{setting.cli_option}" in options, setting.name


def test_keys_and_names_are_unique() -> None:
    assert len({s.key for s in SETTINGS}) == len(SETTINGS)
    assert len({s.name for s in SETTINGS}) == len(SETTINGS)
