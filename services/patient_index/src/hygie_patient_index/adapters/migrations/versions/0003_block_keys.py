"""Blocking keys of each source record in one indexed array (domain.blocking): the online
match and the bulk load look candidates up by the same keys.

Revision ID: patient_index_0003
Revises: patient_index_0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "patient_index_0003"
down_revision = "patient_index_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from hygie_patient_index.adapters.codec import source_from_row
    from hygie_patient_index.domain.blocking import blocking_keys

    op.add_column(
        "source_record",
        sa.Column("block_keys", ARRAY(sa.Text), nullable=False, server_default="{}"),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT * FROM source_record")).mappings().all()
    for row in rows:
        conn.execute(
            sa.text("UPDATE source_record SET block_keys = :k WHERE id = :id"),
            {"k": blocking_keys(source_from_row(row)), "id": row["id"]},
        )
    op.create_index("source_block_keys", "source_record", ["block_keys"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("source_block_keys", "source_record")
    op.drop_column("source_record", "block_keys")
