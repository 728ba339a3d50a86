"""DPoP settings, the purge of the replay store, and the package without
joserfc (missing from an environment all the same)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_refreshgrant import ConfigurationError, RefreshGrant
from flask_refreshgrant.config import Settings

from .conftest import Harness, dpop_key

PASSWORD = {"grant_type": "password", "username": "alice", "password": "wonderland"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ES256 PS256", ("ES256", "PS256")),
        ("ES256, Ed25519", ("ES256", "Ed25519")),
        (["RS256", "RS256"], ("RS256",)),
        ("", ()),
        ([], ()),
    ],
)
def test_algorithms_from_the_environment(value: object, expected: object) -> None:
    settings = Settings.from_config({"OAUTH2_DPOP_SIGNING_ALG_VALUES": value})
    assert settings.dpop_signing_alg_values == expected


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("OAUTH2_DPOP_SIGNING_ALG_VALUES", ["HS256"]),
        ("OAUTH2_DPOP_SIGNING_ALG_VALUES", "none"),
        ("OAUTH2_DPOP_SIGNING_ALG_VALUES", ["ES256", "XX1"]),
        ("OAUTH2_DPOP_SIGNING_ALG_VALUES", 42),
        ("OAUTH2_DPOP_SIGNING_ALG_VALUES", None),
        ("OAUTH2_DPOP_PROOF_MAX_AGE", 0),
        ("OAUTH2_DPOP_PROOF_MAX_AGE", True),
        ("OAUTH2_DPOP_REQUIRE_NONCE", "sometimes"),
        ("OAUTH2_DPOP_BOUND_ACCESS_TOKENS", 1),
    ],
)
def test_bad_dpop_values_name_key_and_value(key: str, value: Any) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_config({key: value})
    assert key in str(raised.value)
    assert repr(value) in str(raised.value)


def _init(config: dict[str, Any]) -> Flask:
    app = Flask(__name__)
    app.config.update(SQLALCHEMY_DATABASE_URI="sqlite://", **config)
    RefreshGrant().init_app(app, db=SQLAlchemy(app), load_user=lambda user_id: None)
    return app


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"OAUTH2_DPOP_REQUIRE_NONCE": True}, "SECRET_KEY must be set"),
        (
            {
                "OAUTH2_DPOP_REQUIRE_NONCE": True,
                "SECRET_KEY": "k",
                "OAUTH2_DPOP_SIGNING_ALG_VALUES": [],
            },
            "OAUTH2_DPOP_REQUIRE_NONCE is True but OAUTH2_DPOP_SIGNING_ALG_VALUES",
        ),
        (
            {
                "OAUTH2_DPOP_BOUND_ACCESS_TOKENS": True,
                "OAUTH2_DPOP_SIGNING_ALG_VALUES": "",
            },
            "OAUTH2_DPOP_BOUND_ACCESS_TOKENS is True but",
        ),
    ],
)
def test_settings_that_need_dpop_fail_at_init_app(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        _init(config)


def test_each_app_gets_its_own_copy_of_the_algorithm_list() -> None:
    one, two = _init({}), _init({})
    one.config["OAUTH2_DPOP_SIGNING_ALG_VALUES"].append("PS512")
    assert "PS512" not in two.config["OAUTH2_DPOP_SIGNING_ALG_VALUES"]


def test_purge_forgets_proofs_too_old_to_be_accepted(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    h.create_user()
    client = h.create_client()
    key = dpop_key(h)
    proof = key.proof()
    assert h.token(PASSWORD, client, headers={"DPoP": proof}).status_code == 200
    runner = h.app.test_cli_runner()
    kept = runner.invoke(args=["oauth2", "purge"])
    assert "forgot 0 used DPoP proofs" in kept.output, kept.output
    # Still remembered: a replay is refused while the proof could pass.
    replay = h.token(PASSWORD, client, headers={"DPoP": proof})
    assert replay.json is not None and replay.json["error"] == "invalid_dpop_proof"
    h.clock.advance(61)
    forgot = runner.invoke(args=["oauth2", "purge"])
    assert "forgot 1 used DPoP proofs" in forgot.output, forgot.output
    # And once forgotten, the proof is too old anyway.
    late = h.token(PASSWORD, client, headers={"DPoP": proof})
    assert late.json is not None
    assert late.json["error_description"] == (
        "The iat of the DPoP proof is too old or in the future."
    )


#: Run in a fresh interpreter where ``import joserfc`` fails, as it does
#: without joserfc.
WITHOUT_JOSERFC = textwrap.dedent(
    """
    import sys

    class NoJoserfc:
        def find_spec(self, name, path=None, target=None):
            if name == "joserfc" or name.startswith("joserfc."):
                raise ImportError("no joserfc here")
            return None

    sys.meta_path.insert(0, NoJoserfc())

    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy
    from flask_refreshgrant import (
        ClientRegistrationError, ConfigurationError, RefreshGrant,
    )

    class User:
        id = 1

    def app(**config):
        app = Flask("plain")
        app.config.update(SQLALCHEMY_DATABASE_URI="sqlite://", **config)
        db = SQLAlchemy(app)
        oauth = RefreshGrant()
        oauth.init_app(
            app, db=db, load_user=lambda user_id: User(),
            authenticate_user=lambda u, p: User() if p == "pw" else None,
        )
        with app.app_context():
            db.create_all()
        return app, oauth

    plain, oauth = app()
    with plain.app_context():
        created = oauth.create_client(name="c", grant_types=["password"])
        try:
            oauth.create_client(
                name="d", grant_types=["password"], dpop_bound_access_tokens=True
            )
        except ClientRegistrationError as error:
            print("registration:", error)
    http = plain.test_client()
    response = http.post(
        "/oauth2/token",
        data={"grant_type": "password", "username": "u", "password": "pw"},
        auth=(created.client_id, created.client_secret),
        headers={"DPoP": "a.b.c"},
    )
    print("token_type:", response.json["token_type"])
    metadata = http.get("/.well-known/oauth-authorization-server").json
    print("advertised:", "dpop_signing_alg_values_supported" in metadata)
    try:
        app(OAUTH2_DPOP_REQUIRE_NONCE=True, SECRET_KEY="k")
    except ConfigurationError as error:
        print("config:", error)
    print("joserfc imported:", "joserfc" in sys.modules)
    """
)


def test_without_joserfc_dpop_is_off_and_says_what_to_install(
    tmp_path: Path,
) -> None:
    """The package imports and works without joserfc: proofs are
    ignored (bearer tokens), nothing is advertised, and a setting that needs
    DPoP is a clear error."""
    script = tmp_path / "without_joserfc.py"
    script.write_text(WITHOUT_JOSERFC)
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    hint = "pip install 'joserfc>=1.6'"
    assert lines == [
        "registration: dpop_bound_access_tokens needs DPoP, which needs joserfc: "
        + hint,
        "token_type: Bearer",
        "advertised: False",
        f"config: OAUTH2_DPOP_REQUIRE_NONCE is True but DPoP needs joserfc: {hint}",
        "joserfc imported: False",
    ], result.stdout + result.stderr
