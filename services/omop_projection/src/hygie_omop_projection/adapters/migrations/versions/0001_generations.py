"""Control tables of the OMOP projection: generations (blue/green schemas) and the id map
shared by every generation, so that OMOP row ids survive rebuilds.

Revision ID: omop_0001
Revises:
"""

from alembic import op

revision = "omop_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE omop_id_seq AS integer")
    op.execute(
        "CREATE TABLE omop_id_map (tbl text NOT NULL, key text NOT NULL, id integer NOT NULL,"
        " PRIMARY KEY (tbl, key))"
    )
    op.execute(
        "CREATE TABLE omop_generation (generation integer PRIMARY KEY, schema_name text NOT NULL,"
        " state text NOT NULL CHECK (state IN ('building', 'serving', 'retired')),"
        " started_at timestamptz NOT NULL DEFAULT now(), swapped_at timestamptz,"
        " events bigint NOT NULL DEFAULT 0)"
    )
    op.execute(
        "CREATE UNIQUE INDEX omop_generation_one_serving ON omop_generation (state)"
        " WHERE state = 'serving'"
    )


def downgrade() -> None:
    op.execute("DROP TABLE omop_generation")
    op.execute("DROP TABLE omop_id_map")
    op.execute("DROP SEQUENCE omop_id_seq")
