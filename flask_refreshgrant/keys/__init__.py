"""Signing keys: the keys that sign JWT access tokens (RFC 9068) and OpenID
Connect ID tokens, and the JWKS that publishes them (SPEC §10).

* :mod:`.keyring` — one app's keys: made on first need, cached, rotated,
  retired; signing and verifying with them;
* :mod:`.jose` — the JOSE half: generating keys, JWKs, signing and checking
  a JWS, all through joserfc (the only module here that imports it);
* :mod:`.access_tokens` — RFC 9068 JWT access tokens: their claims, and
  reading a presented one back to its ``jti``.

Keys live in the database (``oauth2_signing_key``, :mod:`..store.signing_keys`),
so every instance signs with and publishes the same keys; their private
halves are sealed under a key derived from ``SECRET_KEY`` (:mod:`..sealing`).

Imports: :mod:`..store`, joserfc, and the top-level shared modules
(``config``, ``models``, ``sealing``, ``security``, ``errors``, ``issuer``,
``jose_registry``).
Above :mod:`..store`, below :mod:`..grants`: never :mod:`..grants`,
:mod:`..endpoints`, :mod:`..server`, :mod:`..management` or :mod:`..cli`.
"""
