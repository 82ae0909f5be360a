"""EHR erasure: the tombstone kept for an erased EHR (its id, when, by whom, why, and how
much was removed), so that the id is never reused and the erasure stays auditable after
every clinical row of the EHR is gone. No subject: the subject is part of what is erased.

Revision ID: ehr_0008
Revises: ehr_0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "ehr_0008"
down_revision = "ehr_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ehr_erasure",
        sa.Column("ehr_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("system_id", sa.Text, nullable=False),
        sa.Column("time_created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("removed", JSONB, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ehr_erasure")
