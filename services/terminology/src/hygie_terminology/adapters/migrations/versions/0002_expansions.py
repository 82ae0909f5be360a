"""Materialised expansions of large value sets (computed at first use, per release).

Revision ID: terminology_0002
Revises: terminology_0001
"""

from alembic import op

revision = "terminology_0002"
down_revision = "terminology_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE expansion (
            id bigserial PRIMARY KEY,
            key text NOT NULL UNIQUE,
            release_id bigint,
            total integer NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE expansion_member (
            expansion_id bigint NOT NULL REFERENCES expansion (id) ON DELETE CASCADE,
            ord integer NOT NULL,
            system text NOT NULL,
            code text NOT NULL,
            display text,
            concept_id integer,
            inactive boolean NOT NULL,
            PRIMARY KEY (expansion_id, ord)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE expansion_member")
    op.execute("DROP TABLE expansion")
