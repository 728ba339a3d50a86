"""Flask-Migrate / Alembic autogenerate sees the extension's tables."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from flask_refreshgrant import RefreshGrant


# Flask-Migrate's generated env.py tries Flask-SQLAlchemy 2's get_engine() first.
@pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")
def test_autogenerate_creates_and_then_matches_the_models(
    database_url: str, tmp_path: Path
) -> None:
    app = Flask(__name__)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=database_url,
        SQLALCHEMY_ENGINE_OPTIONS={"poolclass": sa.pool.NullPool},
    )
    db = SQLAlchemy(app)
    Migrate(app, db)
    RefreshGrant().init_app(app, db=db, load_user=lambda user_id: None)
    runner = app.test_cli_runner()
    directory = str(tmp_path / "migrations")

    def flask_db(*args: str) -> str:
        result = runner.invoke(args=["db", *args, "--directory", directory])
        assert result.exit_code == 0, (result.output, result.exception)
        return result.output

    runner.invoke(args=["db", "init", "--directory", directory])
    flask_db("migrate", "-m", "oauth2 tables")
    (script,) = (tmp_path / "migrations" / "versions").glob("*.py")
    text = script.read_text()
    for table in (
        "oauth2_client",
        "oauth2_refresh_token",
        "oauth2_access_token",
        "oauth2_authorization_code",
    ):
        assert f"op.create_table('{table}'" in text
    assert "sa.UniqueConstraint('digest')" in text

    flask_db("upgrade")
    with app.app_context():
        tables = set(sa.inspect(db.engine).get_table_names())
    assert {"oauth2_client", "oauth2_refresh_token", "oauth2_access_token"} <= tables

    # The migration is complete: a second autogenerate finds nothing to do.
    flask_db("migrate", "-m", "nothing")
    scripts = list((tmp_path / "migrations" / "versions").glob("*.py"))
    assert len(scripts) == 1, [s.read_text() for s in scripts if s != script]
