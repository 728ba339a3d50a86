"""The ``flask oauth2`` command group (SPEC §7): a thin layer over
:mod:`..management`.

* :mod:`.group` — the group and its top-level commands (``create-client``,
  ``purge``, ``revoke``);
* :mod:`.clients` — ``flask oauth2 clients …``;
* :mod:`.grants` — ``flask oauth2 grants …``;
* :mod:`.audit` — ``flask oauth2 audit``;
* :mod:`.common` — the per-client setting options, JSON or table output,
  errors as one line on stderr.

Imports: :mod:`..management`, :mod:`..server` (the per-app state) and the
top-level shared modules. Only the extension imports it.
"""
