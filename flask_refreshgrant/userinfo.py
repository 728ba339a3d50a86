"""OpenID Connect userinfo (Core 1.0 §5.3) at ``{prefix}/userinfo``: ``GET``
or ``POST`` with an access token holding ``openid`` (Bearer or DPoP, as
:data:`~.resource.require_oauth` reads it), answered with ``sub`` and the
claims of the app's ``get_user_claims(user, scopes)``.

Not Authlib's ``UserInfoEndpoint``: it needs ``token.get_user()`` and
``client_metadata`` on the models, and a signed-response option this server
does not offer; :data:`~.resource.require_oauth` gives the same errors
(``401`` with ``WWW-Authenticate``, ``403 insufficient_scope``).
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc6750 import InvalidTokenError
from flask import Blueprint, Response, json
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import Rule

from .grants.oidc import OPENID
from .resource import require_oauth
from .server.blueprint import limit_body, method_not_allowed
from .server.state import state

userinfo_blueprint = Blueprint("refreshgrant_userinfo", __name__)
#: Bodies are read whole first, within OAUTH2_MAX_BODY_BYTES (SPEC §13).
userinfo_blueprint.before_request(limit_body)
_METHODS = ("GET", "HEAD", "POST")


@userinfo_blueprint.record
def _route_every_method(setup: BlueprintSetupState) -> None:
    """Every other method, OPTIONS included, reaches the view: a JSON 405."""
    prefix = (setup.url_prefix or "").rstrip("/")
    name = f"{setup.name_prefix}.{setup.name}.userinfo".lstrip(".")
    setup.app.url_map.add(Rule(prefix + "/userinfo", endpoint=name, methods=None))


@userinfo_blueprint.route(
    "/userinfo", methods=["GET", "POST"], provide_automatic_options=False
)
def userinfo() -> Response:
    """``{"sub": …}`` and the app's claims for the token's user and scopes."""
    refused = method_not_allowed(_METHODS)
    if refused is not None:
        return refused
    try:
        token: Any = require_oauth.acquire_token([OPENID])
    except OAuth2Error as error:  # as require_oauth's decorator answers
        require_oauth.raise_error_response(error)
    app_state = state()
    user = None if token.user_id is None else app_state.server.load_user(token.user_id)
    if user is None:
        require_oauth.raise_error_response(
            InvalidTokenError(description="The user of this token no longer exists.")
        )
    claims: dict[str, Any] = {}
    if app_state.get_user_claims is not None:
        claims.update(app_state.get_user_claims(user, token.scope.split()))
    claims["sub"] = token.user_id
    return Response(
        json.dumps(claims),
        headers={
            "Content-Type": "application/json",
            "Cache-Control": "no-store",
            "Pragma": "no-cache",
        },
    )
