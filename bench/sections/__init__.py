"""One module per section of the report, each with a function of the same
name taking the :class:`core.harness.Bench` (``run.py`` calls them in order)."""
