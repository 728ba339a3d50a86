"""The example app's web pages: both sides of the authorization code flow.

* The **authorization server** side is the extension's ``/oauth2/authorize``
  endpoint; this module supplies its login and consent (:func:`authorize`,
  passed to ``init_app(authorize=...)``) and the ``/login`` and ``/logout``
  pages behind it.
* The **client** side is the demo client, played by the same app, in the shape
  of WSO2's "generate through the UI": ``/`` sends the browser to the
  authorization endpoint with ``state`` and a PKCE S256 challenge (the
  verifier stays in the Flask session), ``/callback`` checks ``state`` and
  exchanges the code, ``/tokens`` shows the tokens and a copyable curl command
  for the refresh call, and ``/tokens/refresh`` performs the refresh grant.

The demo client talks to the token endpoint without a network round trip:
:func:`call_token_endpoint` posts the form to the app's own WSGI callable, so
the request goes through the real endpoint code (client authentication,
grant, storage) exactly as one over HTTP would. An HTTP call to ourselves
would need the server's reachable address and would deadlock under a single
synchronous worker (``gunicorn`` with one sync worker, or ``flask run
--without-threads``): the worker would wait for a response that only it
could produce. The call runs in a thread of its own so that it gets its own
app context and database session, like a request served by another worker.

The demo client keeps its tokens in the Flask session: a signed (not
encrypted) HttpOnly cookie, which is acceptable here because the page shows
the tokens to the same user anyway. A real client keeps them server-side.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import shlex
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.test import Client

from flask_refreshgrant import AuthorizationRequest, RefreshGrant

from .demo import (
    DEMO_PASSWORD,
    DEMO_SCOPE,
    DEMO_USERNAME,
    demo_credentials,
    demo_redirect_uri,
)
from .models import User, authenticate_user, load_user

web = Blueprint("web", __name__)
csrf = CSRFProtect()

#: Session keys. The authorization server's login and the demo client's
#: state share one Flask session, under separate keys.
USER_KEY = "user_id"
PENDING_KEY = "client_pending_authorization"
TOKENS_KEY = "client_tokens"

SCOPE_DESCRIPTIONS = {
    "PRODUCTION": "call the production APIs on your behalf",
    "SANDBOX": "call the sandbox APIs on your behalf",
}

#: The token endpoint answers within this many seconds, or the page says so.
TOKEN_CALL_TIMEOUT = 60.0


def init_web(app: Flask) -> None:
    """Register the pages, CSRF protection and the HTML security headers."""
    csrf.init_app(app)
    # The token, revocation and introspection endpoints are called by OAuth
    # clients with their own credentials, never with the session cookie: no
    # CSRF token there. The consent form, which posts to the same blueprint's
    # authorization endpoint, is checked explicitly in authorize().
    csrf.exempt(app.blueprints["refreshgrant"])
    app.register_blueprint(web)
    app.register_error_handler(CSRFError, _csrf_error)


# -- helpers -------------------------------------------------------------------


def current_user() -> User | None:
    """The user logged in to the authorization server, if any."""
    user_id = session.get(USER_KEY)
    if user_id is None:
        return None
    return load_user(str(user_id))


def base_url() -> str:
    return str(current_app.config["EXAMPLE_BASE_URL"]).rstrip("/")


def oauth_prefix() -> str:
    return RefreshGrant.state().settings.url_prefix


def redirect_uri() -> str:
    """The demo client's registered redirect URI (see ``demo.py``)."""
    return demo_redirect_uri(current_app)


def token_url() -> str:
    return base_url() + oauth_prefix() + "/token"


def basic_authorization() -> str:
    """``Basic base64(client_id:client_secret)`` of the demo client."""
    creds = demo_credentials(current_app)
    pair = f"{creds['client_id']}:{creds['client_secret']}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier (RFC 7636 §4.1) and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)  # 86 characters of [A-Za-z0-9_-]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def same_secret(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode(), expected.encode())


def safe_next(target: str | None) -> str:
    """A local path to go back to after login; anything else goes home."""
    home = url_for("web.index")
    if not target or not target.startswith("/") or target.startswith("//"):
        return home
    # Browsers drop tabs and newlines from URLs and read a backslash as a
    # slash, so "/<tab>/evil.example" or "/<backslash>evil.example" would leave
    # the site.
    if "\\" in target or any(ch.isspace() or ord(ch) < 32 for ch in target):
        return home
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return home
    return target


def error_page(
    title: str,
    message: str,
    status: int = 400,
    details: dict[str, Any] | None = None,
) -> ResponseReturnValue:
    return (
        render_template("error.html", title=title, message=message, details=details),
        status,
    )


def _csrf_error(error: CSRFError) -> ResponseReturnValue:
    return error_page(
        "Form expired or forged",
        "The form was not accepted: its CSRF token is missing, wrong or "
        f"expired ({error.description}). Go back, reload the page and try again.",
    )


def _check_csrf() -> ResponseReturnValue | None:
    """For a form posted to a CSRF-exempt view (the consent form)."""
    if not current_app.config["WTF_CSRF_ENABLED"]:
        return None
    try:
        csrf.protect()
    except CSRFError as error:
        return _csrf_error(error)
    return None


@dataclass(frozen=True)
class TokenCall:
    """The token endpoint's answer to the demo client."""

    status: int
    body: dict[str, Any]


def call_token_endpoint(form: dict[str, str]) -> TokenCall:
    """POST ``form`` to the token endpoint as the demo client (HTTP Basic).

    In-process through the app's WSGI callable, in a thread of its own (see
    the module docstring for why not over HTTP).
    """
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    headers = {"Authorization": basic_authorization()}
    path = oauth_prefix() + "/token"
    root = base_url()
    results: list[TokenCall] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            response = Client(app).post(path, data=form, headers=headers, base_url=root)
            body = response.get_json(silent=True)
            if not isinstance(body, dict):
                body = {"error": "non-JSON answer", "body": response.text[:500]}
            results.append(TokenCall(response.status_code, body))
        except BaseException as error:  # re-raised in the caller's thread
            errors.append(error)

    thread = threading.Thread(target=run, name="demo-client-token-call")
    thread.start()
    thread.join(TOKEN_CALL_TIMEOUT)
    if errors:
        raise errors[0]
    if not results:
        return TokenCall(504, {"error": "the token endpoint did not answer in time"})
    return results[0]


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


def refresh_curl(refresh_token: str) -> str:
    """The refresh call, ready to paste (SPEC §8's shape, real values)."""
    data = urlencode({"grant_type": "refresh_token", "refresh_token": refresh_token})
    words = ["curl", "-s", "-H", "Authorization: " + basic_authorization()]
    words += ["-d", data, token_url()]
    return shlex.join(words)


def api_curl(access_token: str) -> str:
    header = "Authorization: Bearer " + access_token
    return shlex.join(["curl", "-s", "-H", header, base_url() + "/api/me"])


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


def granted_scopes() -> list[str]:
    supported = RefreshGrant.state().settings.scopes_supported
    return list(supported) if supported else DEMO_SCOPE.split()


@web.app_context_processor
def _template_globals() -> dict[str, Any]:
    return {"current_user": current_user, "oauth_prefix": oauth_prefix}


@web.after_app_request
def _html_headers(response: Response) -> Response:
    """Pages may show tokens (no caching) and hold forms (no framing)."""
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
    return response


# -- the authorization server's login and consent ------------------------------


def authorize(authorization: AuthorizationRequest) -> ResponseReturnValue:
    """Login and consent for ``{prefix}/authorize`` (``init_app(authorize=...)``).

    The extension has already validated the request (client, redirect URI,
    scope, PKCE); the consent form posts back to the same URL.
    """
    user = current_user()
    if user is None:
        return redirect(url_for("web.login", next=request.full_path))
    if request.method == "GET":
        return render_template(
            "consent.html",
            authorization=authorization,
            user=user,
            scope_descriptions=SCOPE_DESCRIPTIONS,
        )
    refused = _check_csrf()
    if refused is not None:
        return refused
    if request.form.get("decision") == "approve":
        return authorization.approve(user)
    return authorization.deny()


@web.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next_url=next_url, demo=_demo_hint())
    username = request.form.get("username", "")
    user = authenticate_user(username, request.form.get("password", ""))
    if user is None:
        page = render_template(
            "login.html",
            next_url=next_url,
            demo=_demo_hint(),
            username=username,
            error="Wrong username or password.",
        )
        return page, 401
    session[USER_KEY] = user.id
    return redirect(next_url)


def _demo_hint() -> tuple[str, str]:
    return DEMO_USERNAME, DEMO_PASSWORD


@web.post("/logout")
def logout() -> ResponseReturnValue:
    session.clear()
    return redirect(url_for("web.index"))


# -- the demo client -----------------------------------------------------------


@web.get("/")
def index() -> ResponseReturnValue:
    # The redirect URI (and so the session cookie at /callback) belongs to
    # EXAMPLE_BASE_URL's origin: start there, not at an alias such as
    # localhost for 127.0.0.1.
    if urlsplit(request.url_root)[:2] != urlsplit(base_url())[:2]:
        return redirect(base_url() + "/")
    creds = demo_credentials(current_app)
    return render_template(
        "index.html",
        client_id=creds["client_id"],
        scopes=granted_scopes(),
        scope_descriptions=SCOPE_DESCRIPTIONS,
        policy=RefreshGrant.state().settings.policy,
        has_tokens=TOKENS_KEY in session,
    )


@web.post("/start")
def start() -> ResponseReturnValue:
    """Send the browser to the authorization endpoint (code + PKCE S256)."""
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


@web.get("/callback")
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


@web.get("/tokens")
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
        policy=RefreshGrant.state().settings.policy,
    )


@web.post("/tokens/refresh")
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
