"""The demo client's pages: the client side of the authorization code flow.

The same app plays an OAuth client, in the shape of WSO2's "generate through
the UI": ``/`` offers the scopes, ``/start`` sends the browser to the
authorization endpoint with ``state`` and a PKCE S256 challenge (the verifier
stays in the Flask session), ``/callback`` checks ``state`` and exchanges the
code, ``/tokens`` shows the tokens and a copyable curl command for the
refresh call, and ``/tokens/refresh`` performs the refresh grant. The calls
to the token endpoint are in :mod:`.demo_client_calls`.

The demo client keeps its tokens in the Flask session: a signed (not
encrypted) HttpOnly cookie, which is acceptable here because the page shows
the tokens to the same user anyway. A real client keeps them server-side.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue

from flask_refreshgrant import RefreshGrant
from flask_refreshgrant.config import TokenPolicy

from .demo import (
    DEMO_SCOPE,
    SCOPE_DESCRIPTIONS,
    configured_base_url,
    demo_credentials,
    is_loopback,
)
from .demo_client_calls import (
    api_curl,
    base_url,
    call_revocation_endpoint,
    call_token_endpoint,
    oauth_prefix,
    refresh_curl,
)
from .page_common import error_page

#: The demo client's session keys, beside the authorization server's login
#: (``server_pages.USER_KEY``) in the same Flask session.
PENDING_KEY = "client_pending_authorization"
TOKENS_KEY = "client_tokens"


def add_routes(web: Blueprint) -> None:
    """The client's pages (endpoints ``web.index``, ``web.start``, ...)."""
    web.add_url_rule("/", view_func=index, methods=["GET"])
    web.add_url_rule("/start", view_func=start, methods=["POST"])
    web.add_url_rule("/callback", view_func=callback, methods=["GET"])
    web.add_url_rule("/tokens", view_func=tokens, methods=["GET"])
    web.add_url_rule("/tokens/refresh", view_func=refresh, methods=["POST"])


# -- what the client reads from the extension's settings ------------------------


def granted_scopes() -> list[str]:
    supported = RefreshGrant.state().settings.scopes_supported
    return list(supported) if supported else DEMO_SCOPE.split()


def token_policy() -> TokenPolicy:
    return RefreshGrant.state().settings.policy


# -- helpers -------------------------------------------------------------------


def redirect_uri() -> str:
    """The demo client's redirect URI: ``/callback`` where the browser
    reaches the app (registered as ``demo.py`` says)."""
    return base_url() + "/callback"


def elsewhere() -> ResponseReturnValue | None:
    """Where the demo client cannot work from here: a redirect to
    ``EXAMPLE_BASE_URL`` when the browser came in another way (the session
    cookie at /callback belongs to its origin), or, when it is unset, an
    explanation for a host that is not loopback (only loopback redirect URIs
    are registered then: the ``Host`` header is anyone's to choose)."""
    configured = configured_base_url(current_app)
    if configured is not None:
        if urlsplit(request.url_root)[:2] != urlsplit(configured)[:2]:
            return redirect(configured + "/")
        return None
    if is_loopback(request.host):
        return None
    return error_page(
        "Set EXAMPLE_BASE_URL",
        "The demo client is registered for loopback addresses only "
        "(127.0.0.1, localhost, [::1], any port). To use it at "
        f"{request.host_url}, start the app with EXAMPLE_BASE_URL set to that "
        "address; its /callback is then registered too.",
    )


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier (RFC 7636 §4.1) and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)  # 86 characters of [A-Za-z0-9_-]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def same_secret(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode(), expected.encode())


def store_tokens(body: dict[str, Any], previous: dict[str, Any] | None) -> None:
    """Keep the token response (and what it replaced) for the token page."""
    if previous is None:  # issued with the code
        grant_scope, previous_refresh, refreshes = body.get("scope", ""), None, 0
    else:
        grant_scope = previous["grant_scope"]
        previous_refresh = previous["refresh_token"]
        refreshes = previous["refreshes"] + 1
    session[TOKENS_KEY] = {
        "access_token": body["access_token"],
        "refresh_token": body.get("refresh_token"),
        "token_type": body.get("token_type", "Bearer"),
        "scope": body.get("scope", ""),
        # What the grant itself covers: a refresh may narrow the access
        # token's scope, never the grant's (RFC 6749 §6).
        "grant_scope": grant_scope,
        "expires_in": body.get("expires_in"),
        "refresh_token_expires_in": body.get("refresh_token_expires_in"),
        "obtained_at": int(time.time()),
        "previous_refresh_token": previous_refresh,
        "refreshes": refreshes,
    }


def expiry(obtained_at: int, seconds: Any) -> dict[str, Any] | None:
    """Absolute time and remaining seconds of a lifetime, or None (never)."""
    if not isinstance(seconds, int):
        return None
    at = obtained_at + seconds
    return {
        "seconds": seconds,
        "at": datetime.fromtimestamp(at, timezone.utc).strftime(
            "%Y-%m-%d %H:%M:%S UTC"
        ),
        "remaining": max(0, at - int(time.time())),
    }


# -- the pages -----------------------------------------------------------------


def index() -> ResponseReturnValue:
    moved = elsewhere()
    if moved is not None:
        return moved
    creds = demo_credentials(current_app)
    return render_template(
        "index.html",
        client_id=creds["client_id"],
        scopes=granted_scopes(),
        scope_descriptions=SCOPE_DESCRIPTIONS,
        policy=token_policy(),
        has_tokens=TOKENS_KEY in session,
    )


def start() -> ResponseReturnValue:
    """Send the browser to the authorization endpoint (code + PKCE S256)."""
    moved = elsewhere()
    if moved is not None:
        return moved
    allowed = granted_scopes()
    scopes = [scope for scope in request.form.getlist("scope") if scope in allowed]
    state = secrets.token_urlsafe(32)
    verifier, challenge = pkce_pair()
    session[PENDING_KEY] = {"state": state, "code_verifier": verifier}
    params = {
        "response_type": "code",
        "client_id": demo_credentials(current_app)["client_id"],
        "redirect_uri": redirect_uri(),
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if scopes:
        params["scope"] = " ".join(scopes)
    return redirect(oauth_prefix() + "/authorize?" + urlencode(params))


def callback() -> ResponseReturnValue:
    """The demo client's redirect URI: check ``state``, exchange the code."""
    pending = session.pop(PENDING_KEY, None)
    if not isinstance(pending, dict):
        return error_page(
            "No authorization in progress",
            "This callback does not answer a request this browser started "
            "(or it was already used). Start again from the home page.",
        )
    if not same_secret(request.args.get("state", ""), pending["state"]):
        return error_page(
            "State mismatch",
            "The state parameter does not match the one this client sent, so "
            "the answer may be forged (CSRF, RFC 6749 §10.12). The code was "
            "not used.",
        )
    if "error" in request.args:
        return error_page(
            "Authorization refused",
            "The authorization server did not issue a code.",
            details={
                "error": request.args["error"],
                "error_description": request.args.get("error_description", ""),
            },
        )
    code = request.args.get("code", "")
    if not code:
        return error_page(
            "No code", "The callback carries neither a code nor an error."
        )
    answer = call_token_endpoint(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri(),
            "code_verifier": pending["code_verifier"],
        }
    )
    if answer.status != 200:
        return error_page(
            "Code exchange refused",
            "The token endpoint refused to exchange the authorization code.",
            status=502 if answer.status >= 500 else 400,
            details=answer.body,
        )
    store_tokens(answer.body, previous=None)
    return redirect(url_for("web.tokens"))


def tokens() -> ResponseReturnValue:
    held = session.get(TOKENS_KEY)
    if not isinstance(held, dict):
        return redirect(url_for("web.index"))
    previous = held.get("previous_refresh_token")
    if previous is None:
        status = "issued"
    elif previous == held["refresh_token"]:
        status = "unchanged"
    else:
        status = "renewed"
    return render_template(
        "tokens.html",
        tokens=held,
        refresh_status=status,
        access_expiry=expiry(held["obtained_at"], held["expires_in"]),
        refresh_expiry=expiry(held["obtained_at"], held["refresh_token_expires_in"]),
        scopes=str(held["scope"]).split(),
        grant_scopes=str(held.get("grant_scope", "")).split(),
        curl=refresh_curl(held["refresh_token"]) if held["refresh_token"] else None,
        api_curl=api_curl(held["access_token"]),
        policy=token_policy(),
        grant_id=held_grant_id(),
    )


def held_grant_id() -> str | None:
    """The grant (token family) of the refresh token the token page holds.
    The app plays both sides, so the client's page may ask its own server
    (a real client would not know); the Connected apps page marks it."""
    held = session.get(TOKENS_KEY)
    if not isinstance(held, dict) or not held.get("refresh_token"):
        return None
    token = RefreshGrant.state().store.find_refresh_token(str(held["refresh_token"]))
    return None if token is None else token.family_id


def sign_out() -> None:
    """Revoke the tokens this session holds (RFC 7009; the refresh token
    takes its whole family, access tokens included) and forget them."""
    held = session.pop(TOKENS_KEY, None)
    if not isinstance(held, dict):
        return
    if held.get("refresh_token"):
        form = {"token": held["refresh_token"], "token_type_hint": "refresh_token"}
    else:
        form = {"token": held["access_token"], "token_type_hint": "access_token"}
    call_revocation_endpoint(form)


def refresh() -> ResponseReturnValue:
    """The refresh grant (RFC 6749 §6) with the refresh token on the page."""
    held = session.get(TOKENS_KEY)
    if not isinstance(held, dict) or not held.get("refresh_token"):
        return redirect(url_for("web.index"))
    form = {"grant_type": "refresh_token", "refresh_token": held["refresh_token"]}
    scope = request.form.get("scope", "")
    if scope:
        form["scope"] = scope
    answer = call_token_endpoint(form)
    if answer.status != 200:
        if answer.body.get("error") == "invalid_grant":
            session.pop(TOKENS_KEY, None)
        return error_page(
            "Refresh refused",
            "The token endpoint refused the refresh token. With rotation on, "
            "a refresh token works once: if it was already used (by the curl "
            "command, say), presenting it again counts as reuse and revokes "
            "the whole token family. Get new tokens from the home page.",
            status=502 if answer.status >= 500 else 400,
            details=answer.body,
        )
    store_tokens(answer.body, previous=held)
    return redirect(url_for("web.tokens"))
