"""What the blueprint routes to, besides the grants.

* :mod:`.request_body` — every body read whole, or refused when over
  ``OAUTH2_MAX_BODY_BYTES`` (never cut);
* :mod:`.token_request` — a token request read as RFC 6749 wants it (POST
  body only, no repeated parameters, HTTP Basic credentials);
* :mod:`.revocation` (RFC 7009) and :mod:`.introspection` (RFC 7662), with
  :mod:`.token_lookup`, the lookup both share;
* :mod:`.authorization_request` — the authorization endpoint (RFC 6749
  §3.1): the extension validates and issues codes, the app supplies login
  and consent.

Imports: :mod:`..grants` (its protocols and lifetimes), :mod:`..dpop`,
:mod:`..store` and the top-level shared modules. Never :mod:`..server`,
:mod:`..management` or :mod:`..cli`.
"""
