"""Closure tables of ConceptMap/$closure (FHIR R4): per name, its concepts and the
subsumption pairs found among them, each stamped with the table version that added it.

Revision ID: terminology_0003
Revises: terminology_0002
"""

from alembic import op

revision = "terminology_0003"
down_revision = "terminology_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE closure_table (
            name text PRIMARY KEY,
            version integer NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE closure_concept (
            name text NOT NULL REFERENCES closure_table (name) ON DELETE CASCADE,
            system text NOT NULL,
            code text NOT NULL,
            version integer NOT NULL,
            PRIMARY KEY (name, system, code)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE closure_entry (
            name text NOT NULL REFERENCES closure_table (name) ON DELETE CASCADE,
            system text NOT NULL,
            descendant text NOT NULL,
            ancestor text NOT NULL,
            version integer NOT NULL,
            PRIMARY KEY (name, system, descendant, ancestor)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE closure_entry")
    op.execute("DROP TABLE closure_concept")
    op.execute("DROP TABLE closure_table")
