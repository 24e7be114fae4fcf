"""Rollup tables keep half of each page free on PostgreSQL

Every upload rewrites its cases' rows in ``case_week`` and ``case_day``. With
free room on the page, PostgreSQL keeps each new row version beside the old one
(a HOT update) instead of on another page with new index entries; under
concurrent uploads that was the difference between 24.8 and 32.1 uploads/s in
``bench.load``. Pages already full gain the room as their rows are rewritten;
``VACUUM FULL case_week, case_day`` repacks them at once. SQLite has no such
setting: nothing to do there.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 01:10:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("case_week", "case_day")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET (fillfactor = 50)")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
