"""DPoP (RFC 9449): sender-constrained tokens.

* :mod:`.proofs` — checking a proof at the token endpoint and at protected
  resources, for one app;
* :mod:`.jws` — the JOSE half, and the only module that imports joserfc;
* :mod:`.nonces` — stateless server nonces (RFC 9449 §8, §9).

Imports: :mod:`..store` (the proof replay store), ``config``, ``errors``,
``security``, ``signals``, ``bounded_json``. :mod:`.jws` imports nothing of
ours but ``errors`` and ``bounded_json``, so ``config`` may read its list of
algorithms.
"""
