"""The models and the migrations must agree, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, Table

from dashboard.extensions import db


def schema_differences(metadata: MetaData) -> list:
    context = MigrationContext.configure(
        db.session.connection(), opts={"compare_type": True, "render_as_batch": True}
    )
    return compare_metadata(context, metadata)


def test_models_match_the_migrated_schema(db_session):
    assert schema_differences(db.metadata) == []


def test_the_check_notices_a_model_the_migrations_lack(db_session):
    drifted = MetaData(naming_convention=db.metadata.naming_convention)
    for table in db.metadata.tables.values():
        table.to_metadata(drifted)
    Table("not_migrated", drifted, Column("id", Integer, primary_key=True))
    differences = schema_differences(drifted)
    assert [d[0] for d in differences] == ["add_table"]
    assert differences[0][1].name == "not_migrated"


def test_db_upgrade_and_downgrade_round_trip(tmp_path):
    """``suitescope db upgrade`` builds the schema from nothing; downgrade removes it."""
    from sqlalchemy import create_engine, inspect

    from dashboard import create_app

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    runner = create_app({"SQLALCHEMY_DATABASE_URI": url}).test_cli_runner()
    upgraded = runner.invoke(args=["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    engine = create_engine(url)
    assert {"project", "run", "result", "case", "coverage_file"} <= set(
        inspect(engine).get_table_names()
    )
    assert runner.invoke(args=["db", "downgrade", "base"]).exit_code == 0
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    engine.dispose()


def test_postgresql_keeps_room_on_the_rollup_pages(db_session, dialect):
    """Every upload rewrites its cases' rollup rows; free room on the page keeps
    those rewrites HOT. The option is no column, so the comparison above misses it."""
    if dialect != "postgresql":
        pytest.skip("fillfactor is a PostgreSQL storage parameter; SQLite has none")
    from sqlalchemy import text

    from dashboard.models import ROLLUP_STORAGE

    options = dict(
        db_session.execute(
            text(
                "SELECT relname, reloptions FROM pg_class "
                "WHERE relname IN ('case_week', 'case_day') AND relkind = 'r'"
            )
        ).all()
    )
    wanted = [f"fillfactor={ROLLUP_STORAGE['fillfactor']}"]
    assert options == {"case_week": wanted, "case_day": wanted}
