"""Trained match parameters (m and u per field and level, estimated by EM).

Revision ID: patient_index_0002
Revises: patient_index_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "patient_index_0002"
down_revision = "patient_index_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "match_parameters",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "trained_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.Column("levels", JSONB, nullable=False),
        sa.Column("match_share", sa.Float, nullable=False),
        sa.Column("pairs", sa.Integer, nullable=False),
        sa.Column("iterations", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("match_parameters")
