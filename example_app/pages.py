"""The example app's web pages: both sides of the authorization code flow.

* :mod:`.server_pages`: the **authorization server**'s login, logout and
  consent (:func:`~.server_pages.authorize`, passed to
  ``init_app(authorize=...)``, behind the extension's ``/oauth2/authorize``).
* :mod:`.connected_apps`: the authorization server's "Connected apps" page,
  where the logged-in user sees and revokes what they authorized.
* :mod:`.demo_client`: the **demo client**'s pages, played by the same app;
  :mod:`.demo_client_calls`: its calls to the token endpoint.
* :mod:`.page_common`: CSRF protection, the error page, HTML headers.

:func:`init_web` puts both sides' pages on one blueprint named ``web``, so
their endpoints (``web.login``, ``web.index``, ...) are the ones the
templates' ``url_for`` calls name.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response
from flask_wtf.csrf import CSRFError

from . import connected_apps, demo_client, server_pages
from .demo_client_calls import oauth_prefix
from .page_common import csrf, csrf_error, html_headers
from .server_pages import current_user


def init_web(app: Flask) -> None:
    """Register the pages, CSRF protection and the HTML security headers."""
    csrf.init_app(app)
    # The token, revocation and introspection endpoints are called by OAuth
    # clients with their own credentials, never with the session cookie: no
    # CSRF token there. The consent form, which posts to the same blueprint's
    # authorization endpoint, is checked explicitly in authorize().
    csrf.exempt(app.blueprints["refreshgrant"])
    # Userinfo too: OpenID Connect clients may POST there (Core §5.3.1),
    # with their access token.
    csrf.exempt(app.blueprints["refreshgrant_userinfo"])
    # Metadata takes no form: a PUT there gets the extension's JSON 405,
    # not the CSRF error page.
    csrf.exempt(app.blueprints["refreshgrant_metadata"])
    web = Blueprint("web", __name__)
    server_pages.add_routes(web)
    connected_apps.add_routes(web)
    demo_client.add_routes(web)
    web.add_url_rule("/favicon.svg", "favicon", favicon)
    # Browsers ask for /favicon.ico whatever the page's <link rel="icon">.
    web.add_url_rule("/favicon.ico", "favicon_ico", favicon)
    web.app_context_processor(template_globals)
    web.after_app_request(html_headers)
    app.register_blueprint(web)
    app.register_error_handler(CSRFError, csrf_error)


#: The tab icon: a refresh arrow on the header's blue.
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="6" fill="#1f3a5f"/>'
    '<path d="M23 11a9 9 0 1 0 1.6 8" fill="none" stroke="#fff" '
    'stroke-width="3" stroke-linecap="round"/>'
    '<path d="M25 5v7h-7z" fill="#fff"/></svg>'
)


def favicon() -> Response:
    """The icon (SVG, which every current browser takes as a favicon)."""
    response = Response(FAVICON, mimetype="image/svg+xml")
    response.cache_control.max_age = 86400
    response.cache_control.public = True
    return response


def template_globals() -> dict[str, Any]:
    return {"current_user": current_user, "oauth_prefix": oauth_prefix}
