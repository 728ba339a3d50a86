"""Signing keys (SPEC §10): stored sealed, made on first need by exactly one
of several instances, published as a JWKS, rotated, retired, purged."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from joserfc import jwt
from joserfc.jwk import KeySet

from flask_refreshgrant import RefreshGrant
from flask_refreshgrant.errors import SigningKeyError
from flask_refreshgrant.keys.keyring import RELOAD_MARGIN

from .conftest import Harness, all_stored_text, oauth2_cli, oauth2_json

#: Members only a private JWK has (RFC 7518 §6).
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def jwks(h: Harness) -> dict[str, Any]:
    response = h.client.get("/oauth2/jwks")
    assert response.status_code == 200
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    return body


def sign(h: Harness, claims: dict[str, Any] | None = None) -> str:
    with h.app.app_context():
        return RefreshGrant.state().keys.sign(claims or {"x": 1}, typ="JWT")


def keys_list(h: Harness) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = oauth2_json(h, "keys", "list")
    return result


def test_jwks_publishes_public_keys_only_and_may_be_cached(harness: Harness) -> None:
    response = harness.client.get("/oauth2/jwks")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    cache = response.headers["Cache-Control"]
    max_age = int(cache.split("max-age=")[1].split(",")[0])
    assert 0 < max_age <= 300
    body = response.json
    assert body is not None
    (key,) = body["keys"]
    assert key["alg"] == "ES256" and key["use"] == "sig" and key["kid"]
    assert key["kty"] == "EC" and key["crv"] == "P-256"
    assert not PRIVATE_MEMBERS & key.keys()
    # The first key was made on first need: listed, current.
    (listed,) = keys_list(harness)
    assert listed["kid"] == key["kid"] and listed["status"] == "current"


def test_metadata_lists_the_jwks_uri(harness: Harness) -> None:
    body = harness.client.get("/.well-known/oauth-authorization-server").json
    assert body is not None
    assert body["jwks_uri"] == "http://localhost/oauth2/jwks"


def test_a_signed_token_verifies_with_the_published_key(harness: Harness) -> None:
    token = sign(harness, {"hello": "world"})
    keyset = KeySet.import_key_set(jwks(harness))  # type: ignore[arg-type]
    decoded = jwt.decode(token, keyset, algorithms=["ES256"])
    assert decoded.claims == {"hello": "world"}
    assert decoded.header["kid"] == jwks(harness)["keys"][0]["kid"]


@pytest.mark.parametrize("alg", ["EdDSA", "RS256", "PS256"])
def test_signing_alg_setting(make_harness: Callable[..., Harness], alg: str) -> None:
    h = make_harness(OAUTH2_SIGNING_ALG=alg)
    token = sign(h)
    (key,) = jwks(h)["keys"]
    assert key["alg"] == alg
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == alg


def test_the_private_half_is_stored_sealed(harness: Harness) -> None:
    sign(harness)
    with harness.app.app_context():
        keys = RefreshGrant.state().keys
        row = keys.current()
        private = keys._private_key(row).as_dict(private=True)
    stored = all_stored_text(harness)
    assert str(private["d"]) not in stored
    with harness.app.app_context():
        model = RefreshGrant.state().models.signing_key
        assert model is not None
        raw = harness.db.session.scalars(sa.select(model.private_jwk)).one()
    with pytest.raises(ValueError):
        json.loads(raw)


def test_another_secret_key_cannot_sign(
    make_harness: Callable[..., Harness],
) -> None:
    first = make_harness()
    sign(first)
    other = make_harness(SECRET_KEY="another-secret")
    with other.app.app_context(), pytest.raises(SigningKeyError, match="SECRET_KEY"):
        RefreshGrant.state().keys.sign({"x": 1}, typ="JWT")


def test_without_secret_key_the_jwks_is_empty_and_signing_fails_clearly(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(SECRET_KEY=None)
    assert jwks(h) == {"keys": []}
    with h.app.app_context(), pytest.raises(SigningKeyError, match="SECRET_KEY"):
        RefreshGrant.state().keys.sign({"x": 1}, typ="JWT")


def test_instances_starting_at_once_make_one_first_key(
    make_harness: Callable[..., Harness],
) -> None:
    """Several instances on one database, each needing a key at the same
    moment (real threads, one app each): they all sign with the same key.
    Five rounds, the table emptied between them."""
    instances = [make_harness() for _ in range(6)]
    for _ in range(5):
        with instances[0].app.app_context():
            model = RefreshGrant.state().models.signing_key
            assert model is not None
            instances[0].db.session.execute(sa.delete(model))
            instances[0].db.session.commit()
        for h in instances:
            with h.app.app_context():
                RefreshGrant.state().keys.forget()
        barrier = threading.Barrier(len(instances))
        kids: list[str] = []
        errors: list[BaseException] = []

        def first_need(
            h: Harness,
            barrier: threading.Barrier = barrier,
            kids: list[str] = kids,
            errors: list[BaseException] = errors,
        ) -> None:
            try:
                with h.app.app_context():
                    barrier.wait()
                    kids.append(RefreshGrant.state().keys.current().kid)
            except BaseException as error:  # reported below
                errors.append(error)

        threads = [threading.Thread(target=first_need, args=(h,)) for h in instances]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(set(kids)) == 1, kids
        assert [k["kid"] for k in keys_list(instances[0])] == kids[:1]


# -- the CLI: list, rotate, retire, purge --------------------------------------


def test_list_before_any_key_is_empty(harness: Harness) -> None:
    assert keys_list(harness) == []
    result = oauth2_cli(harness, "keys", "list")
    assert result.exit_code == 0
    assert "no signing keys yet" in str(result.stdout)


def test_rotate_publishes_at_once_and_keeps_the_old_key(harness: Harness) -> None:
    old_token = sign(harness)
    (old,) = jwks(harness)["keys"]
    new = oauth2_json(harness, "keys", "rotate", "--alg", "RS256")
    assert new["status"] == "current" and new["alg"] == "RS256"
    statuses = {k["kid"]: k["status"] for k in keys_list(harness)}
    assert statuses == {old["kid"]: "previous", new["kid"]: "current"}
    published = {k["kid"] for k in jwks(harness)["keys"]}
    assert published == {old["kid"], new["kid"]}
    # New tokens are signed with the new key; the old token still verifies.
    keyset = KeySet.import_key_set(jwks(harness))  # type: ignore[arg-type]
    assert jwt.decode(sign(harness), keyset).header["kid"] == new["kid"]
    assert jwt.decode(old_token, keyset).header["kid"] == old["kid"]


def test_rotate_with_activate_in_publishes_first_signs_later(harness: Harness) -> None:
    sign(harness)
    (old,) = keys_list(harness)
    new = oauth2_json(harness, "keys", "rotate", "--activate-in", "600")
    assert new["status"] == "next"
    assert new["activates_at"] == new["created_at"] + 600
    assert new["kid"] in {k["kid"] for k in jwks(harness)["keys"]}
    keyset = KeySet.import_key_set(jwks(harness))  # type: ignore[arg-type]
    assert jwt.decode(sign(harness), keyset).header["kid"] == old["kid"]
    harness.clock.advance(600)
    assert jwt.decode(sign(harness), keyset).header["kid"] == new["kid"]
    statuses = {k["kid"]: k["status"] for k in keys_list(harness)}
    assert statuses == {old["kid"]: "previous", new["kid"]: "current"}


def test_retire_is_refused_for_the_current_and_possibly_live_keys(
    harness: Harness,
) -> None:
    sign(harness)
    (old,) = keys_list(harness)
    refused = oauth2_cli(harness, "keys", "retire", old["kid"])
    assert refused.exit_code == 2 and "current" in refused.stderr
    oauth2_json(harness, "keys", "rotate")
    # An access token signed just before the rotation lives an hour, and
    # another instance may sign with the old key for RELOAD_MARGIN more.
    harness.clock.advance(3599 + RELOAD_MARGIN)
    refused = oauth2_cli(harness, "keys", "retire", old["kid"])
    assert refused.exit_code == 2 and "live" in refused.stderr
    assert old["kid"] in {k["kid"] for k in jwks(harness)["keys"]}
    harness.clock.advance(1)
    retired = oauth2_cli(harness, "keys", "retire", old["kid"])
    assert retired.exit_code == 0, retired.output
    assert old["kid"] not in {k["kid"] for k in jwks(harness)["keys"]}
    statuses = {k["kid"]: k["status"] for k in keys_list(harness)}
    assert statuses[old["kid"]] == "retired"


def test_retire_force_and_unknown_kid(harness: Harness) -> None:
    sign(harness)
    (current,) = keys_list(harness)
    unknown = oauth2_cli(harness, "keys", "retire", "no-such-kid")
    assert unknown.exit_code == 1 and "no-such-kid" in unknown.stderr
    forced = oauth2_cli(harness, "keys", "retire", current["kid"], "--force")
    assert forced.exit_code == 0
    assert jwks(harness)["keys"] != [] and current["kid"] not in {
        k["kid"] for k in jwks(harness)["keys"]
    }  # a new key was made on the next need
    again = oauth2_cli(harness, "keys", "retire", current["kid"])
    assert again.exit_code == 1


def test_purge_retires_previous_keys_once_nothing_they_signed_is_valid(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(OAUTH2_ID_TOKEN_VALIDITY_PERIOD=7200)
    h.create_client(access_token_validity_period=10_800)
    sign(h)
    (old,) = keys_list(h)
    oauth2_json(h, "keys", "rotate")
    # The longest lifetime (a client's 3 hours), and the other instances'
    # caches of the keys (RELOAD_MARGIN).
    h.clock.advance(10_799 + RELOAD_MARGIN)
    assert "signing keys" not in oauth2_cli(h, "purge").stdout
    assert old["kid"] in {k["kid"] for k in jwks(h)["keys"]}
    h.clock.advance(1)
    result = oauth2_cli(h, "purge")
    assert result.exit_code == 0 and "retired 1 signing keys" in result.stdout
    assert old["kid"] not in {k["kid"] for k in jwks(h)["keys"]}
