"""AQL: ``aql_descendants`` — the JSON objects below a node, for CONTAINS of RM classes
that are not archetype roots (ELEMENT, HISTORY, EVENT...). With ``local_only`` the walk
does not enter nested archetype roots: a node id (atNNNN) means something only within its
own archetype.

Revision ID: ehr_0004
Revises: ehr_0003
"""

from alembic import op

revision = "ehr_0004"
down_revision = "ehr_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE FUNCTION aql_descendants(root jsonb, local_only boolean) RETURNS SETOF jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      WITH RECURSIVE walk(node, depth) AS (
        SELECT root, 0
        UNION ALL
        SELECT c.child, walk.depth + 1
        FROM walk
        CROSS JOIN LATERAL (
          SELECT value AS child FROM jsonb_each(
            CASE WHEN jsonb_typeof(walk.node) = 'object' THEN walk.node END)
          UNION ALL
          SELECT value FROM jsonb_array_elements(
            CASE WHEN jsonb_typeof(walk.node) = 'array' THEN walk.node END)
        ) c
        WHERE jsonb_typeof(c.child) IN ('object', 'array')
          AND (walk.depth = 0 OR NOT local_only
               OR coalesce(walk.node ->> 'archetype_node_id', '') NOT LIKE 'openEHR-%')
      )
      SELECT node FROM walk WHERE depth > 0 AND jsonb_typeof(node) = 'object'
    $$
    """)


def downgrade() -> None:
    op.execute("DROP FUNCTION aql_descendants(jsonb, boolean)")
