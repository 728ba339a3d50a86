"""Every SQL statement the extension runs, and nothing else.

* :mod:`.statements` — the token endpoint's hot-path statements, built once
  per app;
* :mod:`.tokens` — :class:`~.tokens.TokenStore`: what the grants and
  endpoints read and write per request (lookups by digest, issuing, atomic
  rotation, family revocation);
* :mod:`.admin` — :class:`~.admin.AdminStore`: client registration,
  revocation by client or user, purge;
* :mod:`.base` — the session, transactions and row counts both use.
"""
