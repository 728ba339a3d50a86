"""``TokenVerifier`` (SPEC §12) with JWT access tokens the test signs and a
JWKS served over real HTTP: claims, audience, key rotation and the JWKS
cache, DPoP binding."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from flask_refreshgrant.resource_server import TokenVerificationError, TokenVerifier

from .conftest import DPoPKey, FakeClock
from .resource_helpers import Issuer, issuer_server

API = "https://api.example.com/v1"


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    with issuer_server() as running:
        yield running


def refused(verifier: TokenVerifier, token: str, **kwargs: object) -> str:
    with pytest.raises(TokenVerificationError) as caught:
        verifier.verify(token, **kwargs)  # type: ignore[arg-type]
    assert caught.value.status in (401, 403, 503)
    return caught.value.error


def test_a_good_jwt_gives_its_claims(issuer: Issuer) -> None:
    key = issuer.add_key("k1")
    verifier = TokenVerifier(issuer.url, API)
    claims = verifier.verify(issuer.sign(key, "k1"))
    assert claims["sub"] == "42" and claims["scope"] == "read write"
    # A list audience naming this resource is fine too.
    assert verifier.verify(issuer.sign(key, "k1", aud=["https://x.example", API]))


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"aud": "https://other.example.com/"}, "invalid_token"),
        ({"aud": None}, "invalid_token"),
        ({"iss": "https://evil.example.com"}, "invalid_token"),
        ({"exp": 1_000_000_000}, "invalid_token"),
        ({"exp": None}, "invalid_token"),
        ({"sub": None}, "invalid_token"),
        ({"client_id": None}, "invalid_token"),
        ({"jti": None}, "invalid_token"),
        ({"iat": 9_999_999_999}, "invalid_token"),
        ({"nbf": 9_999_999_999}, "invalid_token"),
    ],
)
def test_claims_are_checked(issuer: Issuer, change: dict[str, Any], error: str) -> None:
    key = issuer.add_key("k1")
    verifier = TokenVerifier(issuer.url, API)
    assert refused(verifier, issuer.sign(key, "k1", **change)) == error


def test_header_and_signature_are_checked(issuer: Issuer) -> None:
    key = issuer.add_key("k1")
    rsa = issuer.add_key("r1", "RS256")
    verifier = TokenVerifier(issuer.url, API)
    token = issuer.sign(key, "k1")
    assert (
        refused(verifier, issuer.sign(key, "k1", header={"typ": "JWT"}))
        == "invalid_token"
    )
    head, body, signature = token.split(".")
    assert refused(verifier, f"{head}.{body}.{signature[:-4]}AAAA") == "invalid_token"
    stranger = issuer.sign(Issuer().add_key("k1"), "k1")  # right kid, wrong key
    assert refused(verifier, stranger) == "invalid_token"
    assert verifier.verify(issuer.sign(rsa, "r1", alg="RS256"))
    only_es = TokenVerifier(issuer.url, API, algorithms=["ES256"])
    assert refused(only_es, issuer.sign(rsa, "r1", alg="RS256")) == "invalid_token"
    for bad in ("", "a b", "x.y.z", "é"):
        assert refused(verifier, bad) == "invalid_token"


def test_an_unknown_kid_refetches_the_jwks_at_most_once_a_minute(
    issuer: Issuer,
) -> None:
    clock = FakeClock(1_800_000_000)
    old = issuer.add_key("k1")
    verifier = TokenVerifier(issuer.url, API, clock=clock)
    assert verifier.verify(issuer.sign(old, "k1", now=clock.now))
    assert issuer.jwks_hits == 1
    clock.advance(61)
    # The issuer rotates: a token signed with the new key is accepted at
    # once, after one fetch, and the old key's tokens still verify.
    new = issuer.add_key("k2")
    assert verifier.verify(issuer.sign(new, "k2", now=clock.now))
    assert issuer.jwks_hits == 2
    assert verifier.verify(issuer.sign(old, "k1", now=clock.now))
    # Made-up kids within the minute cost no fetch.
    for n in range(20):
        assert (
            refused(verifier, issuer.sign(new, f"bogus{n}", now=clock.now))
            == "invalid_token"
        )
    assert issuer.jwks_hits == 2
    # A key published just now is found after the minute has passed.
    newest = issuer.add_key("k3")
    assert (
        refused(verifier, issuer.sign(newest, "k3", now=clock.now)) == "invalid_token"
    )
    clock.advance(60)
    assert verifier.verify(issuer.sign(newest, "k3", now=clock.now))
    assert issuer.jwks_hits == 3
    # The cached set is renewed after five minutes anyway: a retired key
    # stops working then.
    del issuer.published["k1"]
    clock.advance(301)
    assert refused(verifier, issuer.sign(old, "k1", now=clock.now)) == "invalid_token"


def test_keys_held_keep_working_while_the_issuer_is_down(issuer: Issuer) -> None:
    clock = FakeClock(1_800_000_000)
    key = issuer.add_key("k1")
    verifier = TokenVerifier(issuer.url, API, clock=clock)
    assert verifier.verify(issuer.sign(key, "k1", now=clock.now))
    verifier.keys._fetch = lambda: (_ for _ in ()).throw(  # the issuer is gone
        TokenVerificationError("temporarily_unavailable", "down", 503)
    )
    clock.advance(400)
    assert verifier.verify(issuer.sign(key, "k1", now=clock.now))


def test_an_unreachable_issuer_is_503() -> None:
    verifier = TokenVerifier("http://127.0.0.1:9", API, timeout=2)
    with pytest.raises(TokenVerificationError) as caught:
        verifier.verify(
            Issuer(url="http://127.0.0.1:9").sign(Issuer().add_key("k"), "k")
        )
    assert (caught.value.error, caught.value.status) == ("temporarily_unavailable", 503)


def test_opaque_tokens_need_introspection_credentials(issuer: Issuer) -> None:
    assert refused(TokenVerifier(issuer.url, API), "opaque-token") == "invalid_token"


def test_a_dpop_bound_jwt_needs_a_proof_of_its_key(issuer: Issuer) -> None:
    clock = FakeClock(1_800_000_000)
    key = issuer.add_key("k1")
    holder = DPoPKey(clock=clock)
    token = issuer.sign(key, "k1", now=clock.now, cnf={"jkt": holder.jkt})
    verifier = TokenVerifier(issuer.url, API, clock=clock)
    url = API + "/notes"

    def proof(**kwargs: object) -> str:
        return holder.proof(url, "GET", access_token=token, **kwargs)  # type: ignore[arg-type]

    good = {"scheme": "DPoP", "method": "GET", "url": url}
    first = proof()
    assert verifier.verify(token, dpop_proof=first, **good)["cnf"] == {
        "jkt": holder.jkt
    }
    assert (
        refused(verifier, token, dpop_proof=first, **good) == "invalid_dpop_proof"
    )  # replay
    assert refused(verifier, token) == "invalid_token"  # as a bearer token
    assert (
        refused(verifier, token, scheme="DPoP", method="GET", url=url)
        == "invalid_dpop_proof"
    )
    other = DPoPKey(clock=clock).proof(url, "GET", access_token=token)
    assert refused(verifier, token, dpop_proof=other, **good) == "invalid_dpop_proof"
    assert (
        refused(
            verifier, token, dpop_proof=proof(), scheme="DPoP", method="POST", url=url
        )
        == "invalid_dpop_proof"
    )
    assert (
        refused(
            verifier,
            token,
            dpop_proof=proof(),
            scheme="DPoP",
            method="GET",
            url=API + "/x",
        )
        == "invalid_dpop_proof"
    )
    stale = holder.proof(
        url, "GET", access_token=token, claims={"iat": int(clock.now) - 120}
    )
    assert refused(verifier, token, dpop_proof=stale, **good) == "invalid_dpop_proof"
    # htu is compared as the authorization server compares it (one function,
    # dpop.proofs.htu_matches): scheme and host case, a default port and the
    # query do not count; a URL with userinfo is not this request's URL.
    equivalent = "HTTPS://API.example.com:443/v1/notes?page=2"
    assert "cnf" in verifier.verify(
        token, dpop_proof=holder.proof(equivalent, "GET", access_token=token), **good
    )
    with_userinfo = "https://someone@api.example.com/v1/notes"
    assert (
        refused(
            verifier,
            token,
            dpop_proof=holder.proof(with_userinfo, "GET", access_token=token),
            **good,
        )
        == "invalid_dpop_proof"
    )
    # An unbound token cannot be sent with the DPoP scheme.
    plain = issuer.sign(key, "k1", now=clock.now)
    assert refused(verifier, plain, dpop_proof=proof(), **good) == "invalid_token"


def test_a_failed_first_fetch_is_retried_once_a_minute_not_per_token(
    issuer: Issuer,
) -> None:
    """With no key set held, every token used to fetch the JWKS again (a
    fetch storm against an issuer that is down)."""
    clock = FakeClock(1_800_000_000)
    key = issuer.add_key("k1")
    verifier = TokenVerifier(issuer.url, API, clock=clock)
    fetch = verifier.keys._fetch
    verifier.keys._fetch = lambda: (_ for _ in ()).throw(  # the issuer is down
        TokenVerificationError("temporarily_unavailable", "down", 503)
    )
    for _ in range(50):
        assert refused(verifier, issuer.sign(key, "k1", now=clock.now)) == (
            "temporarily_unavailable"
        )
    assert verifier.keys.fetches == 1
    verifier.keys._fetch = fetch  # back up
    clock.advance(30)
    assert refused(verifier, issuer.sign(key, "k1", now=clock.now)) == (
        "temporarily_unavailable"
    )
    clock.advance(31)
    assert verifier.verify(issuer.sign(key, "k1", now=clock.now))
    assert verifier.keys.fetches == 2


@pytest.mark.parametrize("document", [{"keys": None}, {"keys": 5}, ["k"], {}])
def test_a_malformed_key_set_is_503_not_a_crash(
    issuer: Issuer, document: object
) -> None:
    key = issuer.add_key("k1")
    verifier = TokenVerifier(issuer.url, API)
    verifier.keys._fetch = lambda: document  # type: ignore[assignment,return-value]
    assert refused(verifier, issuer.sign(key, "k1")) == "temporarily_unavailable"
