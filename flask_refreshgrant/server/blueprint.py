"""The extension's blueprints: token, revocation, introspection and JWKS
endpoints under ``OAUTH2_URL_PREFIX``, RFC 8414 metadata and OpenID Connect
discovery at the root, Prometheus metrics at ``OAUTH2_METRICS_PATH``; errors
stay JSON. (Userinfo, which needs the resource protector, is in
``flask_refreshgrant.userinfo``.)

Error handlers are scoped to this blueprint, so they never fight the app's own.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749.errors import OAuth2Error
from flask import Blueprint, Response, current_app, g, json, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule

from ..endpoints.authorization_request import AuthorizationRequest
from ..endpoints.request_body import BodyTooLarge, MalformedBody, read_body
from ..grants.oidc import OFFLINE_ACCESS, OPENID
from ..http_errors import database_unavailable, json_error
from ..issuer import issuer_url
from ..keys import jose
from ..metrics import Metrics
from .registration import register as register_client
from .state import state

blueprint = Blueprint("refreshgrant", __name__)
#: Mounted at the application root, whatever ``OAUTH2_URL_PREFIX`` says.
metadata_blueprint = Blueprint("refreshgrant_metadata", __name__)
#: Mounted at ``OAUTH2_METRICS_PATH``, when it is set.
metrics_blueprint = Blueprint("refreshgrant_metrics", __name__)


#: Each endpoint's path and the methods it takes. Its route takes them
#: without Flask's automatic OPTIONS answer; a second rule without methods
#: (:func:`_route_every_method`) sends every other method, OPTIONS included,
#: to the same view, which answers a JSON 405 (SPEC §5, §13).
_METHODS = {
    "/token": ("token", ("POST",)),
    "/revoke": ("revoke", ("POST",)),
    "/introspect": ("introspect", ("POST",)),
    "/authorize": ("authorize", ("GET", "HEAD", "POST")),
    "/register": ("register", ("POST",)),
    "/jwks": ("jwks", ("GET", "HEAD")),
}
_METADATA_METHODS = ("GET", "HEAD")


@blueprint.record
def _route_every_method(setup: BlueprintSetupState) -> None:
    prefix = (setup.url_prefix or "").rstrip("/")
    for path, (endpoint, _methods) in _METHODS.items():
        name = f"{setup.name_prefix}.{setup.name}.{endpoint}".lstrip(".")
        setup.app.url_map.add(Rule(prefix + path, endpoint=name, methods=None))
    if prefix:
        # Any other path under the prefix (``/oauth2/token/`` too): a JSON
        # 404, through this blueprint's error handler. At the root there is
        # no prefix of ours: the app's own 404 stays.
        name = f"{setup.name_prefix}.{setup.name}.unknown".lstrip(".")
        setup.app.view_functions[name] = _unknown_path
        setup.app.url_map.add(
            Rule(prefix + "/", endpoint=name, methods=None, strict_slashes=False)
        )
        setup.app.url_map.add(
            Rule(prefix + "/<path:unknown>", endpoint=name, methods=None)
        )


@metadata_blueprint.record
def _route_every_method_to_metadata(setup: BlueprintSetupState) -> None:
    for path, view in (
        (_METADATA_PATH, "authorization_server_metadata"),
        (_OPENID_CONFIGURATION_PATH, "openid_configuration"),
    ):
        name = f"{setup.name_prefix}.{setup.name}.{view}"
        setup.app.url_map.add(Rule(path, endpoint=name.lstrip("."), methods=None))


def _unknown_path(unknown: str = "") -> Response:
    """A JSON 404 for an unknown path under the prefix; a JSON 405 for a
    route of the app's (or a later endpoint's) with other methods, which
    the catch-all rule outranks for those methods."""
    methods = {
        method
        for rule in current_app.url_map.iter_rules()
        if rule.rule == request.path and rule.endpoint != request.endpoint
        for method in rule.methods or ()
    }
    if methods:
        refused = method_not_allowed(tuple(sorted(methods)))
        if refused is not None:
            return refused
    return json_error(404, "invalid_request", "No such endpoint.")


def method_not_allowed(methods: tuple[str, ...]) -> Response | None:
    """A JSON 405 unless the request's method is one of ``methods``."""
    if request.method in methods:
        return None
    if methods == ("POST",):
        description = "This endpoint accepts POST only."
    else:
        description = f"This endpoint accepts {', '.join(methods)} only."
    return json_error(405, "invalid_request", description, Allow=", ".join(methods))


def _post_only() -> Response | None:
    return method_not_allowed(("POST",))


@blueprint.route("/token", methods=["POST"], provide_automatic_options=False)
def token() -> Response:
    """RFC 6749 §3.2 token endpoint."""
    return _post_only() or state().server.create_token_response()


#: Where :func:`_start_token_request` leaves the app's metrics and the time
#: the request started at, in ``g``.
_STARTED = "refreshgrant_token_request_started"
_TOKEN_ENDPOINT = f"{blueprint.name}.{token.__name__}"


@blueprint.before_request
def _start_token_request() -> None:
    """With metrics on, every answer of the token endpoint is counted and
    timed, those of the error handlers below included."""
    if request.endpoint == _TOKEN_ENDPOINT:
        metrics = state().metrics
        if metrics is not None:
            setattr(g, _STARTED, (metrics, metrics.token_request_started()))


@blueprint.after_request
def _finish_token_request(response: Response) -> Response:
    started: tuple[Metrics, float] | None = g.pop(_STARTED, None)
    if started is not None:
        metrics, at = started
        metrics.token_request_finished(request, response, at)
    return response


@blueprint.before_request
def limit_body() -> Response | None:
    """(After :func:`_start_token_request`, so metrics count a refusal.)
    Every body sent to the extension's endpoints is read whole before
    anything parses it, or refused (SPEC §13; :mod:`..endpoints.request_body`)."""
    limit = state().settings.max_body_bytes
    try:
        read_body(request, limit)
    except BodyTooLarge:
        return json_error(
            413, "invalid_request", f"The request body is larger than {limit} bytes."
        )
    except MalformedBody:
        return json_error(400, "invalid_request", "Malformed request body.")
    return None


@blueprint.route("/revoke", methods=["POST"], provide_automatic_options=False)
def revoke() -> Response:
    """RFC 7009 token revocation."""
    return _post_only() or state().server.create_endpoint_response("revocation")


@blueprint.route("/introspect", methods=["POST"], provide_automatic_options=False)
def introspect() -> Response:
    """RFC 7662 token introspection."""
    return _post_only() or state().server.create_endpoint_response("introspection")


@blueprint.route("/register", methods=["POST"], provide_automatic_options=False)
def register() -> Response:
    """RFC 7591 dynamic client registration, when on."""
    return register_client(state())


@blueprint.route("/authorize", methods=["GET", "POST"], provide_automatic_options=False)
def authorize() -> ResponseReturnValue:
    """RFC 6749 §3.1 authorization endpoint: validated here, then the app's
    ``authorize`` view asks the user (login, consent)."""
    refused = method_not_allowed(_METHODS["/authorize"][1])
    if refused is not None:
        return refused
    app_state = state()
    if app_state.authorize is None:
        return json_error(404, "invalid_request", "No authorization endpoint here.")
    try:
        authorization = AuthorizationRequest(app_state.server)
    except OAuth2Error as error:
        # A redirect back to the client when its redirect URI is known to be
        # good (RFC 6749 §4.1.2.1), else a JSON error to the user agent.
        return app_state.server.handle_error_response(None, error)
    return app_state.authorize(authorization)


#: How long a client may cache the JWKS (SPEC §10: at most 300 s). A key is
#: published before it signs anything, and a verifier re-fetches on an
#: unknown ``kid``, so a rotation never strands a valid token.
JWKS_MAX_AGE = 300

#: The claims an ID token of this server can carry (OpenID Discovery §3).
ID_TOKEN_CLAIMS = ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash"]


@blueprint.route("/jwks", methods=["GET"], provide_automatic_options=False)
def jwks() -> Response:
    """The public signing keys (RFC 7517), made on first need (SPEC §10)."""
    refused = method_not_allowed(_METHODS["/jwks"][1])
    if refused is not None:
        return refused
    return Response(
        json.dumps(state().keys.jwks()),
        headers={
            "Content-Type": "application/json",
            "Cache-Control": f"public, max-age={JWKS_MAX_AGE}",
        },
    )


def _json(body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), headers={"Content-Type": "application/json"})


_METADATA_PATH = "/.well-known/oauth-authorization-server"
_OPENID_CONFIGURATION_PATH = "/.well-known/openid-configuration"


@metadata_blueprint.get(_METADATA_PATH, provide_automatic_options=False)
def authorization_server_metadata() -> Response:
    """RFC 8414 metadata."""
    refused = method_not_allowed(_METADATA_METHODS)
    if refused is not None:
        return refused
    return _json(metadata())


@metadata_blueprint.get(_OPENID_CONFIGURATION_PATH, provide_automatic_options=False)
def openid_configuration() -> Response:
    """OpenID Connect Discovery 1.0 §3: the RFC 8414 metadata and the
    OpenID Provider's own members."""
    refused = method_not_allowed(_METADATA_METHODS)
    if refused is not None:
        return refused
    body = metadata()
    app_state = state()
    base = body["issuer"] + app_state.settings.url_prefix
    scopes = list(app_state.settings.scopes_supported or ())
    body.update(
        userinfo_endpoint=base + "/userinfo",
        scopes_supported=list(dict.fromkeys([OPENID, OFFLINE_ACCESS, *scopes])),
        subject_types_supported=["public"],
        id_token_signing_alg_values_supported=app_state.keys.algorithms(),
        claims_supported=ID_TOKEN_CLAIMS,
        # Request Objects are refused (Core §6); Discovery §3 makes
        # request_uri_parameter_supported true when it is left out.
        request_parameter_supported=False,
        request_uri_parameter_supported=False,
    )
    return _json(body)


def metadata() -> dict[str, Any]:
    """The RFC 8414 metadata document of the current app."""
    app_state = state()
    settings = app_state.settings
    issuer = issuer_url(settings)
    base = issuer + settings.url_prefix
    confidential = ["client_secret_basic", "client_secret_post"]
    body: dict[str, Any] = {
        "issuer": issuer,
        "token_endpoint": base + "/token",
        "revocation_endpoint": base + "/revoke",
        "introspection_endpoint": base + "/introspect",
        "grant_types_supported": app_state.server.grant_types_supported,
        "response_types_supported": ["code"] if app_state.authorize else [],
        "token_endpoint_auth_methods_supported": [*confidential, "none"],
        "revocation_endpoint_auth_methods_supported": [*confidential, "none"],
        "introspection_endpoint_auth_methods_supported": confidential,
        # RFC 9207: authorization responses, codes and errors alike, carry
        # ``iss`` (this issuer).
        "authorization_response_iss_parameter_supported": True,
    }
    if app_state.authorize is not None:
        body["authorization_endpoint"] = base + "/authorize"
        body["code_challenge_methods_supported"] = ["S256"]
    if jose.AVAILABLE:  # signing keys need joserfc
        body["jwks_uri"] = base + "/jwks"
    if settings.scopes_supported:
        body["scopes_supported"] = list(settings.scopes_supported)
    if settings.dynamic_registration is not None:
        body["registration_endpoint"] = base + "/register"
    if settings.resources is not None:
        # RFC 9728 §4: the resources (RFC 8707) tokens are issued for.
        body["protected_resources"] = list(settings.resources)
    body.update(app_state.server.dpop.metadata())
    return body


@metrics_blueprint.get("")
def metrics() -> Response:
    """SPEC §7.2: the counters and the histogram, for Prometheus to scrape."""
    app_metrics = state().metrics
    assert app_metrics is not None  # mounted only then
    body, content_type = app_metrics.exposition(request.headers.get("Accept"))
    return Response(body, content_type=content_type)


@blueprint.errorhandler(OperationalError)
@blueprint.errorhandler(InterfaceError)
@blueprint.errorhandler(PoolTimeoutError)
def database_error(error: Exception) -> Response:
    """The database is down, unreachable or locked."""
    return database_unavailable(error, state().store.rollback)


@blueprint.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    """Werkzeug's HTML error pages become RFC 6749 JSON errors."""
    status = error.code or 400
    return json_error(status, "invalid_request" if status < 500 else "server_error")


@blueprint.errorhandler(Exception)
def unexpected_error(error: Exception) -> Response:
    """Never an HTML page or a stack trace to an OAuth client."""
    current_app.logger.exception("OAuth 2.0 endpoint failed")
    return json_error(500, "server_error")
