"""The authorization endpoint (RFC 6749 §3.1): the extension validates the
request and issues codes; the app supplies login and consent.

The app passes ``authorize=`` to ``init_app``: a view function that receives
an :class:`AuthorizationRequest` for every valid request to
``{prefix}/authorize`` (GET or POST, so a consent form can post back to the
same URL) and returns a response::

    def authorize(request: AuthorizationRequest):
        user, logged_in_at = current_user(), session.get("logged_in_at")
        if request.login_required(user, logged_in_at):
            if request.prompt_none:                 # OpenID Connect prompt=none
                return request.deny("login_required")
            return redirect(url_for("login", next=request.resume_url))
        if flask.request.method == "GET":
            if request.prompt_none:
                return request.deny("consent_required")
            return render_template("consent.html", authorization=request)
        if flask.request.form.get("decision") == "approve":
            # 302 to the client with a code
            return request.approve(user, auth_time=logged_in_at)
        return request.deny()                       # 302 with error=access_denied

OpenID Connect (Core 1.0 §3.1.2.1): ``prompt=login`` and ``max_age`` make
:meth:`AuthorizationRequest.login_required` say that the user must log in
again; ``prompt=consent`` and ``offline_access`` make
:attr:`AuthorizationRequest.consent_required` say that the consent page must
be shown; ``prompt=none`` forbids both, so the app answers with
``deny("login_required")`` or ``deny("consent_required")``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from authlib.common.urls import add_params_to_uri, url_decode, urlparse
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error
from flask import Response
from flask import request as flask_request
from flask.typing import ResponseReturnValue

from ..grants.oidc import OFFLINE_ACCESS
from ..grants.protocols import ConsentServer
from ..grants.resources import authorization_request_resources

#: The errors :meth:`AuthorizationRequest.deny` may send besides
#: ``access_denied``: OpenID Connect Core §3.1.2.6.
OIDC_ERRORS = (
    "login_required",
    "consent_required",
    "interaction_required",
    "account_selection_required",
)
#: ``prompt`` values of OpenID Connect Core §3.1.2.1.
_PROMPTS = {"none", "login", "consent", "select_account"}


class AuthorizationRequest:
    """A validated authorization request, waiting for the user's decision."""

    def __init__(self, server: ConsentServer) -> None:
        """Validate the current request; raises :class:`OAuth2Error` if it
        is invalid. RFC 6749 §3.1: its parameters come in the query (and a
        consent form posts back to the same URL)."""
        self._server = server
        self._request = FlaskOAuth2Request(flask_request)
        self._grant = server.get_consent_grant(self._request, end_user=None)
        data = self._grant.request.payload.data
        self.prompt: frozenset[str] = frozenset(str(data.get("prompt", "")).split())
        """The ``prompt`` values asked for (OpenID Connect)."""
        if not self.prompt <= _PROMPTS or (
            "none" in self.prompt and len(self.prompt) > 1
        ):
            raise self._invalid("Invalid 'prompt' parameter.")
        max_age = data.get("max_age")
        if max_age is not None and not (
            max_age.isascii() and max_age.isdigit() and len(max_age) <= 10
        ):
            raise self._invalid("'max_age' must be a whole number of seconds.")
        self.max_age: int | None = None if max_age is None else int(max_age)
        """Seconds since the user's login after which they must log in again."""

    def _invalid(self, description: str) -> OAuth2Error:
        return InvalidRequestError(
            description, redirect_uri=self.redirect_uri, state=self.state
        )

    @property
    def client_id(self) -> str:
        return str(self._grant.client.client_id)

    @property
    def client_name(self) -> str:
        return str(self._grant.client.client_name or self._grant.client.client_id)

    @property
    def scopes(self) -> list[str]:
        """The scopes the client asked for (its registered ones if it asked none)."""
        return str(self._grant.request.scope or "").split()

    @property
    def resources(self) -> list[str]:
        """The resources (RFC 8707) the tokens will be for; empty: the
        server's default audience."""
        return list(authorization_request_resources(self._grant.request))

    @property
    def redirect_uri(self) -> str:
        return str(self._grant.redirect_uri)

    @property
    def state(self) -> str | None:
        state: str | None = self._grant.request.payload.state
        return state

    @property
    def prompt_none(self) -> bool:
        """``prompt=none``: the user must not be asked anything; answer with
        :meth:`deny` (``login_required``, ``consent_required``) instead."""
        return "none" in self.prompt

    def login_required(self, user: Any, auth_time: int | None = None) -> bool:
        """Whether the user must log in (again) before deciding: nobody is
        logged in (``user`` is ``None``), ``prompt=login`` was asked, or the
        login at ``auth_time`` is older than ``max_age`` — or ``max_age`` was
        asked and the app does not know when the user logged in (OpenID
        Connect Core §3.1.2.1: the ID token's ``auth_time`` must then be
        a real login time, which the app reports to :meth:`approve`)."""
        if user is None or "login" in self.prompt:
            return True
        return self.max_age is not None and (
            auth_time is None or self._server.now() - auth_time > self.max_age
        )

    @property
    def consent_required(self) -> bool:
        """Whether the consent page must be shown even if the user agreed
        before: ``prompt=consent``, or ``offline_access`` asked (OpenID
        Connect Core §11)."""
        return "consent" in self.prompt or OFFLINE_ACCESS in self.scopes

    @property
    def resume_url(self) -> str:
        """This request's URL, to come back to after the login: the login
        it asked for with ``prompt=login`` has then happened, so the
        ``login`` value is taken out of ``prompt``."""
        full_path = flask_request.full_path.rstrip("?")  # the query as sent
        url = flask_request.root_url.rstrip("/") + full_path
        if "login" not in self.prompt:
            return url
        parts = urlparse.urlsplit(url)
        query = [(k, v) for k, v in url_decode(parts.query) if k != "prompt"]
        rest = " ".join(sorted(self.prompt - {"login"}))
        base = urlparse.urlunsplit(parts._replace(query=""))
        resumed: str = add_params_to_uri(
            base, query + ([("prompt", rest)] if rest else [])
        )
        return resumed

    def approve(self, user: Any, auth_time: int | None = None) -> Response:
        """Issue a code for ``user`` and redirect back to the client.

        :param auth_time: when the user logged in (seconds since the epoch),
            the ``auth_time`` of OpenID Connect; default: now (the time of
            consent).
        """
        self._grant.request.auth_time = auth_time
        return self._respond(user)

    def deny(self, error: str = "access_denied") -> Response:
        """Redirect back to the client with ``error`` (``access_denied``, or
        for OpenID Connect ``login_required``, ``consent_required``,
        ``interaction_required``, ``account_selection_required``)."""
        if error == "access_denied":
            return self._respond(None)
        if error not in OIDC_ERRORS:
            raise ValueError(f"deny() cannot send {error!r}")
        refusal = OAuth2Error(redirect_uri=self.redirect_uri, state=self.state)
        refusal.error = error
        response: Response = self._server.handle_error_response(self._request, refusal)
        return response

    def _respond(self, user: Any) -> Response:
        response: Response = self._server.create_authorization_response(
            self._request, grant=self._grant, grant_user=user
        )
        return response


AuthorizeView = Callable[[AuthorizationRequest], ResponseReturnValue]
