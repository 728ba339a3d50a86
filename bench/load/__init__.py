"""Load generation: wrk (``wrkgen`` runs it with ``wrk_chain.lua``), the
Python fallback and race (``loadgen.py``, run as a script), and
``inprocess_loop.py``, N in-process calls of one route for callgrind."""
