"""An index for the late-first-sighting check of every upload

``ingest.store.backdate_first_sightings`` asks whether any case of the project
was first seen after the uploaded run started. Without an index on
(project_id, first_seen_at) that read every case of the project on every
upload: about 100 ms at 100,000 cases, whatever the upload's size.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 19:10:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_project_id_first_seen_at"),
            ["project_id", "first_seen_at"],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_project_id_first_seen_at"))
