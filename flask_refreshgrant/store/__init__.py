"""Every SQL statement the extension runs, and nothing else.

* :mod:`.statements` — the token endpoint's hot-path statements, built once
  per app;
* :mod:`.tokens` — :class:`~.tokens.TokenStore`: what the grants and
  endpoints read and write per request (lookups by digest, issuing, atomic
  rotation, family revocation);
* :mod:`.rows` — the column values of new token rows;
* :mod:`.lockout` — the password lock's counts (RFC 6749 §4.3.2);
* :mod:`.dpop` — the DPoP proof replay store (RFC 9449 §11.1);
* :mod:`.admin`, :mod:`.clients`, :mod:`.grants` — operators' reads and
  writes: registration, client changes, revocation by client or user, grant
  listing, purge;
* :mod:`.audit` — the audit's counts and invariant checks;
* :mod:`.base` — the session, transactions and row counts they all use.

Imports: ``models``, ``reasons`` and ``security`` only; everything else imports it.
"""
