"""An app of its own that enables the testing plugin (see test_testing_plugin.py)."""
