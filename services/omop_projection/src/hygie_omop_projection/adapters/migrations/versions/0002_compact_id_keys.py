"""The id map keyed by a 64-bit hash of (table, natural key) instead of the text pair.

Natural keys of clinical rows (``<voi>|<archetype path>|<rule>``, ~140 bytes) made a
primary-key index of millions of random text entries that outgrew the buffers: the
largest write of a rebuild. The key is now ``h``: the high 32 bits hash the table and the
composition (the key up to its first ``|``), the low 32 bits the whole key, so that every
key of a composition lies in one range of ``h`` (erasure). The text key stays in the row
(checked on every lookup: a collision is refused, never a shared id).

Revision ID: omop_0002
Revises: omop_0001
"""

from alembic import op

revision = "omop_0002"
down_revision = "omop_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE FUNCTION omop_id_hash(tbl text, key text) RETURNS bigint LANGUAGE sql "
        "IMMUTABLE PARALLEL SAFE AS $$ SELECT (hashtext(tbl || '|' || split_part(key, '|', 1))"
        "::bigint << 32) | (hashtext(key)::bigint & 4294967295) $$"
    )
    op.execute(
        "ALTER TABLE omop_id_map ADD COLUMN h bigint GENERATED ALWAYS AS "
        "(omop_id_hash(tbl, key)) STORED"
    )
    op.execute("ALTER TABLE omop_id_map DROP CONSTRAINT omop_id_map_pkey")
    op.execute("ALTER TABLE omop_id_map ADD PRIMARY KEY (h)")


def downgrade() -> None:
    op.execute("ALTER TABLE omop_id_map DROP CONSTRAINT omop_id_map_pkey")
    op.execute("ALTER TABLE omop_id_map DROP COLUMN h")
    op.execute("ALTER TABLE omop_id_map ADD PRIMARY KEY (tbl, key)")
    op.execute("DROP FUNCTION omop_id_hash(text, text)")
