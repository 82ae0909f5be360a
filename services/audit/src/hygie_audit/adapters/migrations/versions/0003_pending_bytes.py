"""Pending records as orjson bytes (not JSONB: they are parsed once, by the appender).

Revision ID: audit_0003
Revises: audit_0002
"""

from alembic import op

revision = "audit_0003"
down_revision = "audit_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE audit_pending ALTER COLUMN resource TYPE bytea"
        " USING convert_to(resource::text, 'UTF8')"
    )


def downgrade() -> None:
    op.execute(
        "ALTER TABLE audit_pending ALTER COLUMN resource TYPE jsonb"
        " USING convert_from(resource, 'UTF8')::jsonb"
    )
