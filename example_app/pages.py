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

from flask import Blueprint, Flask
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
    # Metadata takes no form: a PUT there gets the extension's JSON 405,
    # not the CSRF error page.
    csrf.exempt(app.blueprints["refreshgrant_metadata"])
    web = Blueprint("web", __name__)
    server_pages.add_routes(web)
    connected_apps.add_routes(web)
    demo_client.add_routes(web)
    web.app_context_processor(template_globals)
    web.after_app_request(html_headers)
    app.register_blueprint(web)
    app.register_error_handler(CSRFError, csrf_error)


def template_globals() -> dict[str, Any]:
    return {"current_user": current_user, "oauth_prefix": oauth_prefix}
