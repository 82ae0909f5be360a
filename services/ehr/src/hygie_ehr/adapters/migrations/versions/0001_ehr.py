"""EHR table.

Revision ID: ehr_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "ehr_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ehr",
        sa.Column("ehr_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("system_id", sa.Text, nullable=False),
        sa.Column("time_created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject_namespace", sa.Text),
        sa.Column("subject_id", sa.Text),
        sa.Column("ehr_status_id", UUID(as_uuid=True), nullable=False),
        sa.Column("is_queryable", sa.Boolean, nullable=False),
        sa.Column("is_modifiable", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.Text),
    )
    # One EHR per subject (ITS-REST: 409 on a second); also the index of GET /ehr?subject_id=.
    op.create_index("ehr_subject_unique", "ehr", ["subject_namespace", "subject_id"], unique=True)


def downgrade() -> None:
    op.drop_table("ehr")
