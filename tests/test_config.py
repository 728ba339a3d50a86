"""Settings: every key's default, coercion of environment strings, and errors
that name the key and the value."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_refreshgrant import ConfigurationError, RefreshGrant, Settings, TokenPolicy
from flask_refreshgrant import config as keys


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
    )
    assert settings.url_prefix == "/oauth2"
    assert settings.scopes_supported is None
    assert settings.issuer is None


def test_init_app_sets_every_default_in_app_config() -> None:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
    db = SQLAlchemy(app)
    RefreshGrant().init_app(app, db=db, load_user=lambda user_id: None)
    for key, default in keys.DEFAULTS.items():
        assert app.config[key] == default


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (keys.REFRESH_TOKEN_VALIDITY_PERIOD, "60", 60),
        (keys.REFRESH_TOKEN_VALIDITY_PERIOD, " 86400 ", 86400),
        (keys.REFRESH_TOKEN_VALIDITY_PERIOD, -1, None),
        (keys.REFRESH_TOKEN_VALIDITY_PERIOD, "-1", None),
        (keys.ACCESS_TOKEN_VALIDITY_PERIOD, "120", 120),
        (keys.REFRESH_TOKEN_GRACE_PERIOD, "0", 0),
        (keys.REFRESH_TOKEN_ABSOLUTE_LIFETIME, "3600", 3600),
        (keys.REFRESH_TOKEN_ABSOLUTE_LIFETIME, "none", None),
        (keys.REFRESH_TOKEN_ABSOLUTE_LIFETIME, -5, None),
        (keys.RENEW_REFRESH_TOKEN, "false", False),
        (keys.RENEW_REFRESH_TOKEN, "False", False),
        (keys.RENEW_REFRESH_TOKEN, "true", True),
        (keys.RENEW_REFRESH_TOKEN, "0", False),
        (keys.EXTEND_RENEWED_EXPIRY, "off", False),
        (keys.REFRESH_TOKEN_REUSE_DETECTION, "yes", True),
    ],
)
def test_strings_from_the_environment_are_coerced(
    key: str, value: object, expected: object
) -> None:
    policy = Settings.from_config({key: value}).policy
    field = {
        keys.REFRESH_TOKEN_VALIDITY_PERIOD: "refresh_token_validity_period",
        keys.ACCESS_TOKEN_VALIDITY_PERIOD: "access_token_validity_period",
        keys.REFRESH_TOKEN_GRACE_PERIOD: "refresh_token_grace_period",
        keys.REFRESH_TOKEN_ABSOLUTE_LIFETIME: "refresh_token_absolute_lifetime",
        keys.RENEW_REFRESH_TOKEN: "renew_refresh_token",
        keys.EXTEND_RENEWED_EXPIRY: "extend_renewed_refresh_token_expiry",
        keys.REFRESH_TOKEN_REUSE_DETECTION: "refresh_token_reuse_detection",
    }[key]
    assert getattr(policy, field) == expected


def test_scopes_and_prefix_and_issuer() -> None:
    settings = Settings.from_config(
        {
            keys.SCOPES_SUPPORTED: "PRODUCTION SANDBOX",
            keys.URL_PREFIX: "/auth/",
            keys.ISSUER: "https://id.example.com/",
        }
    )
    assert settings.scopes_supported == ("PRODUCTION", "SANDBOX")
    assert settings.url_prefix == "/auth"
    assert settings.issuer == "https://id.example.com"
    assert Settings.from_config(
        {keys.SCOPES_SUPPORTED: ["A", "B"]}
    ).scopes_supported == (
        "A",
        "B",
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (keys.REFRESH_TOKEN_VALIDITY_PERIOD, True),  # a bool is not one second
        (keys.REFRESH_TOKEN_VALIDITY_PERIOD, 1.5),
        (keys.REFRESH_TOKEN_VALIDITY_PERIOD, "a day"),
        (keys.REFRESH_TOKEN_VALIDITY_PERIOD, None),
        (keys.ACCESS_TOKEN_VALIDITY_PERIOD, -1),
        (keys.ACCESS_TOKEN_VALIDITY_PERIOD, 0),
        (keys.ACCESS_TOKEN_VALIDITY_PERIOD, "12.5"),
        (keys.REFRESH_TOKEN_GRACE_PERIOD, -30),
        (keys.REFRESH_TOKEN_ABSOLUTE_LIFETIME, False),
        (keys.REFRESH_TOKEN_ABSOLUTE_LIFETIME, "forever"),
        (keys.RENEW_REFRESH_TOKEN, "maybe"),
        (keys.RENEW_REFRESH_TOKEN, 1),
        (keys.RENEW_REFRESH_TOKEN, None),
        (keys.EXTEND_RENEWED_EXPIRY, "2"),
        (keys.REFRESH_TOKEN_REUSE_DETECTION, 0),
        (keys.SCOPES_SUPPORTED, 42),
        (keys.SCOPES_SUPPORTED, ["A B"]),
        (keys.SCOPES_SUPPORTED, ["A", ""]),
        (keys.SCOPES_SUPPORTED, {"A": 1}),
        (keys.URL_PREFIX, "oauth2"),
        (keys.URL_PREFIX, None),
        (keys.ISSUER, "id.example.com"),
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
    app.config[keys.REFRESH_TOKEN_VALIDITY_PERIOD] = "soon"
    db = SQLAlchemy(app)
    with pytest.raises(ConfigurationError, match=keys.REFRESH_TOKEN_VALIDITY_PERIOD):
        RefreshGrant().init_app(app, db=db, load_user=lambda user_id: None)
    assert "refreshgrant" not in app.extensions


def _client(**overrides: Any) -> Any:
    columns = {
        "refresh_token_validity_period": None,
        "renew_refresh_token": None,
        "extend_renewed_refresh_token_expiry": None,
        "refresh_token_absolute_lifetime": None,
        "access_token_validity_period": None,
        "refresh_token_reuse_detection": None,
        "refresh_token_grace_period": None,
    }
    columns.update(overrides)
    return SimpleNamespace(**columns)


def test_client_columns_override_the_app_policy() -> None:
    settings = Settings.from_config({keys.REFRESH_TOKEN_ABSOLUTE_LIFETIME: 7200})
    assert settings.policy_for(_client()) == settings.policy
    policy = settings.policy_for(
        _client(
            refresh_token_validity_period=60,
            renew_refresh_token=False,
            extend_renewed_refresh_token_expiry=False,
            access_token_validity_period=30,
            refresh_token_reuse_detection=False,
            refresh_token_grace_period=10,
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
    )


def test_negative_client_lifetimes_mean_never_and_no_cap() -> None:
    settings = Settings.from_config({keys.REFRESH_TOKEN_ABSOLUTE_LIFETIME: 7200})
    policy = settings.policy_for(
        _client(refresh_token_validity_period=-1, refresh_token_absolute_lifetime=-1)
    )
    assert policy.refresh_token_validity_period is None
    assert policy.refresh_token_absolute_lifetime is None
