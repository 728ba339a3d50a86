"""Issue 19, points 6 and 11: every integer setting has an upper bound (ten
years for lifetimes) in app.config, the CLI and the Python API alike, with a
clear error naming the key (SPEC §13); booleans of the Python API are
booleans."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from flask_refreshgrant import ClientRegistrationError, ConfigurationError
from flask_refreshgrant.coercion import TEN_YEARS, Count, Seconds
from flask_refreshgrant.config import PER_CLIENT_SETTINGS, SETTINGS, Settings

from .conftest import Harness

HUGE = 9223372036854775000
SECONDS_SETTINGS = [s for s in SETTINGS if isinstance(s.coerce, Seconds)]
COUNT_SETTINGS = [s for s in SETTINGS if isinstance(s.coerce, Count)]
PER_CLIENT_SECONDS = [
    s.name for s in PER_CLIENT_SETTINGS if isinstance(s.coerce, Seconds)
]


def test_every_integer_setting_has_an_upper_bound() -> None:
    """Each whole-number setting is a Seconds or a Count, both bounded."""
    integers = [s for s in SETTINGS if isinstance(s.default, int)]
    integers = [s for s in integers if not isinstance(s.default, bool)]
    assert integers and all(s in SECONDS_SETTINGS + COUNT_SETTINGS for s in integers)


@pytest.mark.parametrize("setting", SECONDS_SETTINGS, ids=lambda s: s.key)
@pytest.mark.parametrize("value", [TEN_YEARS + 1, HUGE, str(HUGE), "9" * 30])
def test_a_lifetime_beyond_ten_years_names_the_key(
    setting: object, value: object
) -> None:
    key = setting.key  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_config({key: value})
    assert key in str(raised.value) and repr(value) in str(raised.value)
    assert "315360000" in str(raised.value)
    # Ten years itself is accepted.
    Settings.from_config({key: TEN_YEARS})


@pytest.mark.parametrize("setting", COUNT_SETTINGS, ids=lambda s: s.key)
def test_counts_are_bounded_too(setting: object) -> None:
    key = setting.key  # type: ignore[attr-defined]
    coerce: Count = setting.coerce  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_config({key: coerce.maximum + 1})
    assert key in str(raised.value)
    Settings.from_config({key: coerce.maximum})


@pytest.mark.parametrize("name", PER_CLIENT_SECONDS)
def test_the_python_api_refuses_a_per_client_lifetime_beyond_ten_years(
    harness: Harness, name: str
) -> None:
    with pytest.raises(ClientRegistrationError, match=name):
        harness.create_client(**{name: HUGE})  # type: ignore[arg-type]
    client = harness.create_client()
    with harness.app.app_context(), pytest.raises(ClientRegistrationError, match=name):
        harness.oauth.update_client(client.client_id, **{name: TEN_YEARS + 1})


def test_rotate_secret_keep_old_for_is_bounded(harness: Harness) -> None:
    client = harness.create_client()
    with harness.app.app_context():
        with pytest.raises(ClientRegistrationError, match="keep_old_for"):
            harness.oauth.rotate_client_secret(client.client_id, keep_old_for=HUGE)
        harness.oauth.rotate_client_secret(client.client_id, keep_old_for=TEN_YEARS)


@pytest.mark.parametrize(
    "args",
    [
        [
            "create-client",
            "--name",
            "x",
            "--grant-type",
            "password",
            "--refresh-token-validity-period",
            str(HUGE),
        ],
        [
            "create-client",
            "--name",
            "x",
            "--grant-type",
            "password",
            "--grace-period",
            "9" * 23,
        ],
        ["clients", "update", "CLIENT", "--access-token-validity-period", str(HUGE)],
        ["clients", "rotate-secret", "CLIENT", "--keep-old-for", "9" * 23],
        ["purge", "--older-than", "9" * 23],
    ],
    ids=["create-client", "create-client-grace", "update", "rotate-secret", "purge"],
)
def test_the_cli_refuses_values_beyond_the_bounds_without_a_traceback(
    harness: Harness, args: list[str]
) -> None:
    client = harness.create_client()
    args = [client.client_id if a == "CLIENT" else a for a in args]
    result = harness.app.test_cli_runner().invoke(args=["oauth2", *args])
    assert result.exit_code in (1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "315360000" in result.output


def test_a_huge_lifetime_stored_before_the_bound_does_not_break_refresh(
    harness: Harness,
) -> None:
    """A row written by older code: read as ten years, not an overflow."""
    client = harness.create_client()
    with harness.app.app_context():
        model = harness.oauth.state().models.client
        harness.db.session.execute(
            sa.update(model)
            .where(model.client_id == client.client_id)
            .values(
                refresh_token_validity_period=HUGE, access_token_validity_period=HUGE
            )
        )
        harness.db.session.commit()
    response = harness.password_grant(client)
    assert response.status_code == 200, response.json
    body = response.json
    assert body is not None
    assert body["refresh_token_expires_in"] == TEN_YEARS
    assert body["expires_in"] == TEN_YEARS


# -- point 11: booleans are booleans --------------------------------------------


@pytest.mark.parametrize("value", ["no", "false", 0, 1, None])
def test_create_client_public_must_be_a_bool(harness: Harness, value: object) -> None:
    with pytest.raises(ClientRegistrationError, match="public must be True or False"):
        harness.create_client(public=value)
    with harness.app.app_context():
        assert harness.oauth.list_clients() == []


def test_list_grants_include_inactive_must_be_a_bool(harness: Harness) -> None:
    with harness.app.app_context(), pytest.raises(TypeError, match="include_inactive"):
        harness.oauth.list_grants(include_inactive="no")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["grant_types", "redirect_uris"])
def test_a_string_where_a_list_belongs_is_refused(harness: Harness, name: str) -> None:
    kwargs: dict[str, Any] = {
        "grant_types": ("authorization_code",),
        "redirect_uris": ["https://a/cb"],
    }
    kwargs[name] = "authorization_code" if name == "grant_types" else "https://a/cb"
    with pytest.raises(ClientRegistrationError, match=name):
        harness.create_client(**kwargs)
