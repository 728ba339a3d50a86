"""The operators' operations on one app, under both the Python API
(:class:`~flask_refreshgrant.RefreshGrant`'s methods) and the ``flask oauth2``
commands.

* :mod:`.operations` — create, update, rotate a secret, delete, list and
  revoke, returning the records of :mod:`flask_refreshgrant.records`;
* :mod:`.registration` — the checks of a client's registration (grant types,
  scopes, redirect URIs, per-client settings);
* :mod:`.grant_records` — token families read into records (no SQL).

Imports: :mod:`..server` (the per-app state), :mod:`..grants` (lifetimes),
:mod:`..store` and the top-level shared modules. Never :mod:`..cli`.
"""
