"""The authorization endpoint (RFC 6749 §3.1): the extension validates the
request and issues codes; the app supplies login and consent.

The app passes ``authorize=`` to ``init_app``: a view function that receives
an :class:`AuthorizationRequest` for every valid request to
``{prefix}/authorize`` (GET or POST, so a consent form can post back to the
same URL) and returns a response::

    def authorize(request: AuthorizationRequest):
        if not current_user:
            return redirect(url_for("login", next=flask.request.url))
        if flask.request.method == "GET":
            return render_template("consent.html", authorization=request)
        if flask.request.form.get("decision") == "approve":
            return request.approve(current_user)   # 302 to the client with a code
        return request.deny()                      # 302 with error=access_denied
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from flask import Response
from flask import request as flask_request
from flask.typing import ResponseReturnValue

from ..grants.protocols import ConsentServer
from ..grants.resources import authorization_request_resources


class AuthorizationRequest:
    """A validated authorization request, waiting for the user's decision."""

    def __init__(self, server: ConsentServer) -> None:
        """Validate the current request; raises :class:`OAuth2Error` if it
        is invalid. RFC 6749 §3.1: its parameters come in the query (and a
        consent form posts back to the same URL)."""
        self._server = server
        self._request = FlaskOAuth2Request(flask_request)
        self._grant = server.get_consent_grant(self._request, end_user=None)

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

    def approve(self, user: Any) -> Response:
        """Issue a code for ``user`` and redirect back to the client."""
        return self._respond(user)

    def deny(self) -> Response:
        """Redirect back to the client with ``error=access_denied``."""
        return self._respond(None)

    def _respond(self, user: Any) -> Response:
        response: Response = self._server.create_authorization_response(
            self._request, grant=self._grant, grant_user=user
        )
        return response


AuthorizeView = Callable[[AuthorizationRequest], ResponseReturnValue]
