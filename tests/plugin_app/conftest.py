from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from .protected_api import create_app

pytest_plugins = ["flask_refreshgrant.testing"]


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return create_app(f"sqlite:///{tmp_path / 'app.db'}")
