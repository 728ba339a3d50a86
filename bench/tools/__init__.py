"""Standalone measurements, each a script run by hand (``--help``):
``dpop_cost``, ``metrics_overhead``, ``password_timing``; and
``profile_endpoint``, which the profile section also runs."""
