"""Blocking keys recomputed: the birth-date key is also stored with the initial of each
family name (domain.blocking), so a record whose first given name was entered wrongly
still meets the others born the same day. The index is unchanged (GIN on block_keys).

Revision ID: patient_index_0004
Revises: patient_index_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "patient_index_0004"
down_revision = "patient_index_0003"
branch_labels = None
depends_on = None

_BATCH = 5000


def upgrade() -> None:
    from hygie_patient_index.adapters.codec import source_from_row
    from hygie_patient_index.domain.blocking import blocking_keys

    conn = op.get_bind()
    update = sa.text("UPDATE source_record SET block_keys = :k WHERE id = :id")
    rows = conn.execute(sa.text("SELECT * FROM source_record")).mappings().all()
    for start in range(0, len(rows), _BATCH):
        conn.execute(
            update,
            [
                {"k": blocking_keys(source_from_row(r)), "id": r["id"]}
                for r in rows[start : start + _BATCH]
            ],
        )


def downgrade() -> None:
    """The extra keys are harmless to the previous code (a few more candidates)."""
