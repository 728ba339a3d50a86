"""DPoP against the real example app under gunicorn, on both databases:
interoperability with a DPoP client nobody here wrote (requests-oauth2client),
the example's own DPoP client script, one winner among 12 concurrent
refreshes of one bound refresh token, and a proof's ``jti`` refused across
worker processes."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from requests_oauth2client import DPoPToken, OAuth2Client

from flask_refreshgrant import ClientCredentials

from .conftest import DPoPKey
from .live import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    REPO_ROOT,
    REQUEST_TIMEOUT,
    WORKER_MODELS,
    LiveServer,
    database_kind,
    describe,
    example_environment,
    live_server,
    together,
)
from .live_pages import REDIRECT_URI, approve, log_in, register

RACERS = 12


def me(server: LiveServer, auth: Any) -> requests.Response:
    return requests.get(server.base_url + "/api/me", auth=auth, timeout=REQUEST_TIMEOUT)


@pytest.mark.parametrize("nonce", [False, True], ids=["nonce-off", "nonce-required"])
def test_requests_oauth2client_gets_refreshes_and_uses_bound_tokens(
    tmp_path: Path,
    database_url: str,
    make_example_app: Callable[..., Flask],
    nonce: bool,
) -> None:
    """Interoperability (issue 12): requests-oauth2client's own DPoP — its
    keys, proofs, ``dpop_jkt`` and nonce handling — against the live app."""
    label = f"{database_kind(database_url)}/{'nonce' if nonce else 'no-nonce'}"
    config = {"FLASK_OAUTH2_DPOP_REQUIRE_NONCE": str(nonce).lower()}
    with live_server(
        tmp_path, database_url, WORKER_MODELS["gthread"], config
    ) as server:
        issuer = server.base_url
        metadata = requests.get(
            issuer + "/.well-known/oauth-authorization-server", timeout=REQUEST_TIMEOUT
        ).json()
        assert metadata["dpop_signing_alg_values_supported"] == [
            "ES256",
            "EdDSA",
            "RS256",
            "PS256",
        ]

        # A confidential client and the password grant.
        confidential = OAuth2Client(
            token_endpoint=metadata["token_endpoint"],
            auth=server.credentials,
            dpop_bound_access_tokens=True,
            testing=True,  # plain http on 127.0.0.1
        )
        token = confidential.resource_owner_password(
            DEMO_USERNAME, DEMO_PASSWORD, scope="PRODUCTION"
        )
        assert isinstance(token, DPoPToken), token
        for _ in range(2):
            token = confidential.refresh_token(token)
            assert isinstance(token, DPoPToken), token
        api = me(server, token)
        assert api.status_code == 200, api.text
        # With nonces required, the client was told them and used them.
        key = token.dpop_key
        assert (key.as_nonce is not None, key.rs_nonce is not None) == (nonce, nonce)
        bearer = requests.get(
            server.base_url + "/api/me",
            headers={"Authorization": f"Bearer {token.access_token}"},
            timeout=REQUEST_TIMEOUT,
        )
        assert bearer.status_code == 401
        print(
            f"interop {label} password: token_type={token.token_type} "
            f"key={key.alg} jkt={key.dpop_jkt[:10]}... nonces from AS/RS: "
            f"{key.as_nonce is not None}/{key.rs_nonce is not None}; "
            f"/api/me {api.status_code} {api.json()}; as Bearer: "
            f"{bearer.status_code} {bearer.headers['WWW-Authenticate'][:40]}..."
        )

        # A public client: code + PKCE + dpop_jkt, then refresh and use.
        public = register(
            make_example_app,
            grant_types=["authorization_code", "refresh_token"],
            redirect_uris=[REDIRECT_URI],
            public=True,
        )
        client = OAuth2Client(
            token_endpoint=metadata["token_endpoint"],
            authorization_endpoint=metadata["authorization_endpoint"],
            client_id=public.client_id,
            redirect_uri=REDIRECT_URI,
            issuer=metadata["issuer"],
            dpop_bound_access_tokens=True,
            testing=True,  # plain http on 127.0.0.1
        )
        request = client.authorization_request(scope="PRODUCTION", dpop=True)
        assert request.dpop_jkt is not None
        with requests.Session() as browser:
            log_in(server, browser)
            location = approve(server, browser, str(request.uri))
        code = request.validate_callback(location)
        token = client.authorization_code(code)
        assert isinstance(token, DPoPToken), token
        assert token.dpop_key.dpop_jkt == request.dpop_jkt
        refreshed = client.refresh_token(token)
        again = client.refresh_token(refreshed)
        assert me(server, again).status_code == 200
        # The refresh token is bound to the key: without a proof it is dead.
        plain = requests.post(
            metadata["token_endpoint"],
            data={
                "grant_type": "refresh_token",
                "refresh_token": again.refresh_token,
                "client_id": public.client_id,
            },
            timeout=REQUEST_TIMEOUT,
        )
        assert plain.status_code == 400
        assert plain.json()["error"] == "invalid_grant"
        print(
            f"interop {label} public code+PKCE+dpop_jkt: token_type="
            f"{again.token_type}, 2 refreshes, /api/me 200; refresh without the "
            f"key: {plain.status_code} {plain.json()['error']}"
        )


def test_the_example_dpop_client_walks_both_flows(
    tmp_path: Path, database_url: str
) -> None:
    """SPEC §8: ``python -m example_app.dpop_client`` against the running
    app, as a user would run it."""
    with live_server(tmp_path, database_url) as server:
        env = example_environment(server, database_url)
        for flow in ("code", "password"):
            result = subprocess.run(
                [sys.executable, "-m", "example_app.dpop_client", "--flow", flow],
                capture_output=True,
                text=True,
                env=env,
                cwd=REPO_ROOT,
                timeout=120,
                check=False,
            )
            assert result.returncode == 0, result.stdout + result.stderr
            assert "Every step behaved as RFC 9449 says." in result.stdout
            assert '"token_type": "DPoP"' in result.stdout
            assert 'WWW-Authenticate: DPoP error="invalid_token"' in result.stdout


def _public_bound_grant(
    server: LiveServer, make_example_app: Callable[..., Flask], key: DPoPKey
) -> tuple[ClientCredentials, str]:
    client = register(
        make_example_app, grant_types=["password", "refresh_token"], public=True
    )
    response = requests.post(
        server.token_url,
        data={
            "grant_type": "password",
            "username": DEMO_USERNAME,
            "password": DEMO_PASSWORD,
            "client_id": client.client_id,
        },
        headers={"DPoP": key.proof(server.token_url)},
        timeout=REQUEST_TIMEOUT,
    )
    assert response.status_code == 200, response.text
    return client, response.json()["refresh_token"]


def posting(
    server: LiveServer,
    data: dict[str, str],
    *,
    key: DPoPKey | None = None,
    proof: str | None = None,
    auth: tuple[str, str] | None = None,
) -> Callable[[requests.Session, int], requests.Response]:
    """What each of the racers sends: ``data`` to the token endpoint with a
    fresh proof of ``key``, or the one ``proof`` they all share."""

    def send(session: requests.Session, index: int) -> requests.Response:
        header = proof if key is None else key.proof(server.token_url)
        assert header is not None
        return session.post(
            server.token_url,
            data=data,
            auth=auth,
            headers={"DPoP": header},
            timeout=REQUEST_TIMEOUT,
        )

    return send


def test_concurrent_refreshes_of_one_bound_token_have_one_winner(
    tmp_path: Path, database_url: str, make_example_app: Callable[..., Flask]
) -> None:
    """SPEC §6 with DPoP: 12 simultaneous refreshes, each with its own proof
    of the bound key, across worker processes and threads: exactly one
    rotates, the rest are reuse (and revoke the family, winner included)."""
    label = f"{database_kind(database_url)}/gthread/dpop"
    with live_server(tmp_path, database_url, WORKER_MODELS["gthread"]) as server:
        for trial in range(1, 4):
            key = DPoPKey(clock=time.time)
            client, token = _public_bound_grant(server, make_example_app, key)
            data = {
                "grant_type": "refresh_token",
                "refresh_token": token,
                "client_id": client.client_id,
            }
            responses = together(RACERS, posting(server, data, key=key))
            summary = f"{label} trial {trial}: {describe(responses)}"
            print(summary)
            winners = [r for r in responses if r.status_code == 200]
            assert len(winners) == 1, f"{summary}\n{server.output()}"
            assert winners[0].json()["token_type"] == "DPoP"
            for response in responses:
                if response is not winners[0]:
                    assert response.json()["error"] == "invalid_grant", summary


#: gunicorn's access log: the worker's pid, the request and the status.
ACCESS_LOG = ("--access-logfile", "-", "--access-logformat", "%(p)s %(m)s %(U)s %(s)s")
_LOGGED = re.compile(r"^<(\d+)> POST /oauth2/token (\d{3})$", re.MULTILINE)


def test_a_proof_is_refused_by_every_worker_once_used(
    tmp_path: Path, database_url: str
) -> None:
    """RFC 9449 §11.1: one proof sent 12 times at once to two worker
    processes is accepted once; the replay store is the database's unique
    index, so the other worker refuses it too."""
    label = f"{database_kind(database_url)}/sync"
    workers = (*WORKER_MODELS["sync"], *ACCESS_LOG)
    with live_server(tmp_path, database_url, workers) as server:
        key = DPoPKey(clock=time.time)
        form = {
            "grant_type": "password",
            "username": DEMO_USERNAME,
            "password": DEMO_PASSWORD,
        }
        across = False
        for trial in range(1, 6):
            proof = key.proof(server.token_url)
            logged_before = len(_LOGGED.findall(server.stdout()))
            send = posting(server, form, proof=proof, auth=server.credentials)
            responses = together(RACERS, send)
            summary = f"{label} trial {trial}: {describe(responses)}"
            print(summary)
            assert [r.status_code for r in responses].count(200) == 1, summary
            for response in responses:
                if response.status_code != 200:
                    assert response.json() == {
                        "error": "invalid_dpop_proof",
                        "error_description": "This DPoP proof has been used before.",
                    }, summary
            deadline = time.monotonic() + 5
            while len(_LOGGED.findall(server.stdout())) < logged_before + RACERS:
                assert time.monotonic() < deadline, server.output()
                time.sleep(0.05)
            logged = _LOGGED.findall(server.stdout())[logged_before:]
            (accepted,) = [pid for pid, status in logged if status == "200"]
            refused = {pid for pid, status in logged if status == "400"}
            print(
                f"{label} trial {trial}: accepted by worker {accepted}, "
                f"refused by workers {sorted(refused)}"
            )
            if refused - {accepted}:
                across = True
                break
        # The proof one worker accepted, the other worker refused.
        assert across, server.output()
