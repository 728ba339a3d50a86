"""The soak (``bench/soak``): mixed traffic with faults, then the audit.

* :mod:`.main` — the run: its PostgreSQL and gunicorn, the faults, the audit;
* :mod:`.driver` — the Python driver's scenarios (code grants through the
  pages, grace retries, reuse, revocations, DPoP);
* :mod:`.wrkload` and ``soak.lua`` — wrk's password grants, refreshes and
  resource calls;
* :mod:`.report` — answers sorted by outcome, inside and outside the faults.
"""
