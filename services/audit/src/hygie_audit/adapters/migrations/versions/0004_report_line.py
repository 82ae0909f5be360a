"""The patient-report line of each record, computed at append time (not hashed: derived
from the hashed bytes, like the other search columns).

Revision ID: audit_0004
Revises: audit_0003
"""

from alembic import op

revision = "audit_0004"
down_revision = "audit_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN is DDL, not an UPDATE of rows: the append-only trigger does not fire.
    op.execute("ALTER TABLE audit_entry ADD COLUMN report_line bytea")


def downgrade() -> None:
    op.execute("ALTER TABLE audit_entry DROP COLUMN report_line")
