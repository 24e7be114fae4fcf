"""Rollups for the dashboard: cases per week and per day, where runs were rolled up

``case_week`` and ``case_day`` are filled by ingest from now on. Runs stored
before this revision are not rolled up (``run.rollup_started_at`` is NULL): the
pages read their results directly, as before, until ``suitescope rollups
rebuild`` counts them in. The suspect-results index gains the columns the
flakiness rules read, and the per-case index those of a case's history, so
that their queries never visit the table.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 15:37:21.135383

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SUSPECT = sa.text("outcome IN ('failed', 'error') OR retry_flake IS TRUE")
SUSPECT_COLUMNS = ["run_id", "case_id", "outcome", "retry_flake", "attempts", "duration_s"]
CASE_HISTORY_COLUMNS = ["case_id", "run_id", "outcome", "duration_s", "attempts", "retry_flake"]


def upgrade():
    op.create_table(
        "case_day",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("runs", sa.Text(), nullable=False),
        sa.Column("buckets", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "day", name=op.f("pk_case_day")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "case_week",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("executions", sa.Integer(), nullable=False),
        sa.Column("timed", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("seconds_sq", sa.Float(), nullable=False),
        sa.Column("min_s", sa.Float(), nullable=True),
        sa.Column("max_s", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("project_id", "week", "case_id", name=op.f("pk_case_week")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("result", schema=None) as batch_op:
        batch_op.drop_index("ix_result_suspect", sqlite_where=SUSPECT, postgresql_where=SUSPECT)
        batch_op.create_index(
            "ix_result_suspect",
            SUSPECT_COLUMNS,
            unique=False,
            postgresql_where=SUSPECT,
            sqlite_where=SUSPECT,
        )
        # A case's history read from the index alone, no visit to the table.
        batch_op.drop_index("ix_result_case_id_run_id")
        batch_op.create_index("ix_result_case_history", CASE_HISTORY_COLUMNS, unique=False)
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("rollup_started_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("rollup_infra", sa.Boolean(), nullable=True))


def downgrade():
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_column("rollup_infra")
        batch_op.drop_column("rollup_started_at")
    with op.batch_alter_table("result", schema=None) as batch_op:
        batch_op.drop_index("ix_result_case_history")
        batch_op.create_index("ix_result_case_id_run_id", ["case_id", "run_id"], unique=False)
        batch_op.drop_index("ix_result_suspect", sqlite_where=SUSPECT, postgresql_where=SUSPECT)
        batch_op.create_index(
            "ix_result_suspect",
            ["run_id", "case_id"],
            unique=False,
            postgresql_where=SUSPECT,
            sqlite_where=SUSPECT,
        )
    op.drop_table("case_week")
    op.drop_table("case_day")
