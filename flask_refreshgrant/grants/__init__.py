"""The grant types, and the one path that finishes a fresh grant.

* :mod:`.refresh` — the refresh token grant (RFC 6749 §6): expiry, atomic
  rotation, reuse detection; :mod:`.lifetimes` its expiry arithmetic and
  :mod:`.grace` the grace period's sealed replay copy;
* :mod:`.code` — the authorization code grant with PKCE (RFC 6749 §4.1,
  RFC 7636);
* :mod:`.password` — the password grant (RFC 6749 §4.3), behind the password
  lock of :mod:`.lockout` (§4.3.2);
* :mod:`.client_credentials` — the client credentials grant (RFC 6749 §4.4);
* :mod:`.common` — what every grant shares; :mod:`.issuing` — storing a fresh
  grant's tokens and answering with them;
* :mod:`.protocols` — what grants and endpoints need from the authorization
  server, as typed interfaces (they never import the server class).

Imports: :mod:`..dpop`, :mod:`..store`, and the top-level shared modules
(``config``, ``models``, ``signals``, ``reasons``, ``security``, ``issuer``,
``errors``). Never :mod:`..endpoints`, :mod:`..server`, :mod:`..management` or
:mod:`..cli`.
"""
