"""Patient merges: which EHR was re-pointed to, or retired behind, a surviving patient's
EHR, and what to restore on an unmerge. One active link per EHR and merged patient (the
constraint makes a replayed merge a no-op).

Revision ID: ehr_0006
Revises: ehr_0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "ehr_0006"
down_revision = "ehr_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ehr_link",
        sa.Column("link_id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("ehr_id", UUID(as_uuid=True), sa.ForeignKey("ehr.ehr_id"), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("patient_id", UUID(as_uuid=True), nullable=False),
        sa.Column("survivor_id", UUID(as_uuid=True), nullable=False),
        sa.Column("survivor_ehr_id", UUID(as_uuid=True)),
        sa.Column("was_modifiable", sa.Boolean, nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("merge_event_id", sa.Text, nullable=False),
        sa.Column("unmerged_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("kind IN ('repointed', 'merged_into')", name="ehr_link_kind"),
    )
    op.create_index(
        "ehr_link_active",
        "ehr_link",
        ["ehr_id", "patient_id"],
        unique=True,
        postgresql_where=sa.text("unmerged_at IS NULL"),
    )
    op.create_index("ehr_link_patient", "ehr_link", ["patient_id"])
    op.create_index("ehr_link_survivor", "ehr_link", ["survivor_ehr_id"])


def downgrade() -> None:
    op.drop_table("ehr_link")
