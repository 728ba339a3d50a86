"""One app's authorization server, and the HTTP face of it.

* :mod:`.authorization_server` — Authlib's ``AuthorizationServer`` subclass,
  one per app, wired from the settings with the grants and endpoints;
* :mod:`.state` — the per-app state in ``app.extensions["refreshgrant"]``;
* :mod:`.blueprint` — the routes: token, revocation, introspection,
  authorization, RFC 8414 metadata, metrics, and the JSON error handlers.

Imports: :mod:`..endpoints`, :mod:`..grants`, :mod:`..dpop`, :mod:`..store`,
``metrics`` and the top-level shared modules. Imported by the extension, the
resource protector, :mod:`..management`, :mod:`..cli` and the test helpers.
"""
