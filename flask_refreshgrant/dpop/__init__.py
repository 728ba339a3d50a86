"""DPoP (RFC 9449): sender-constrained tokens.

* :mod:`.proofs` — checking a proof at the token endpoint and at protected
  resources, for one app;
* :mod:`.jws` — the JOSE half, and the only module here that imports joserfc;
* :mod:`.nonces` — stateless server nonces (RFC 9449 §8, §9).

Imports: :mod:`..store` (the proof replay store), ``config``, ``errors``,
``security``, ``signals``, ``bounded_json``, ``jose_registry``. :mod:`.jws`
imports nothing of ours but ``errors``, ``bounded_json`` and
``jose_registry``, so ``config`` may read its list of algorithms.
"""
