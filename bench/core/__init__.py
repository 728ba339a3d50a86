"""What the driver and every section share: the run's settings, the settings
every server shares (``common``), the processes it starts (``servers``: the
private PostgreSQL, gunicorn, helper scripts), readings from ``/proc``
(``measure``), driving the load and collecting results (``harness``), and the
report's tables and verdicts (``report``)."""
