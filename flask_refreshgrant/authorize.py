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
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749.errors import OAuth2Error
from flask import Response
from flask.typing import ResponseReturnValue

if TYPE_CHECKING:
    from .server import AuthorizationServer


class AuthorizationRequest:
    """A validated authorization request, waiting for the user's decision."""

    def __init__(self, server: AuthorizationServer, grant: Any) -> None:
        self._server = server
        self._grant = grant

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
            grant=self._grant, grant_user=user
        )
        return response


AuthorizeView = Callable[[AuthorizationRequest], ResponseReturnValue]


def authorization_request(server: AuthorizationServer) -> AuthorizationRequest:
    """Validate the current request; raises :class:`OAuth2Error` if it is invalid."""
    return AuthorizationRequest(server, server.get_consent_grant(end_user=None))


__all__ = [
    "AuthorizationRequest",
    "AuthorizeView",
    "OAuth2Error",
    "authorization_request",
]
