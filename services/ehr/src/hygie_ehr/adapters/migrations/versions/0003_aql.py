"""AQL: stored queries, an EHR-scoped index of archetype roots, and the SQL helper
functions the AQL compiler emits (comparison of DV_ORDERED values, safe casts).

Revision ID: ehr_0003
Revises: ehr_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "ehr_0003"
down_revision = "ehr_0002"
branch_labels = None
depends_on = None

_FUNCTIONS = [
    # The comparable value of a node: DV_QUANTITY/DV_COUNT by magnitude, DV_PROPORTION by
    # its ratio, DV_DATE_TIME/DV_ORDINAL/DV_TEXT... by value; primitives as they are.
    """
    CREATE FUNCTION aql_ordered(v jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      SELECT CASE
        WHEN jsonb_typeof(v) <> 'object' THEN v
        WHEN v ? 'magnitude' THEN v -> 'magnitude'
        WHEN jsonb_typeof(v -> 'numerator') = 'number'
             AND jsonb_typeof(v -> 'denominator') = 'number'
             AND (v ->> 'denominator')::numeric <> 0
          THEN to_jsonb((v ->> 'numerator')::numeric / (v ->> 'denominator')::numeric)
        WHEN v ? 'value' THEN v -> 'value'
        ELSE v END
    $$
    """,
    """
    CREATE FUNCTION aql_num(v jsonb) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      SELECT CASE WHEN jsonb_typeof(o) = 'number' THEN o::numeric END
      FROM (SELECT aql_ordered(v) AS o) s
    $$
    """,
    """
    CREATE FUNCTION aql_text(v jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      SELECT CASE WHEN jsonb_typeof(o) IN ('string', 'number', 'boolean') THEN o #>> '{}' END
      FROM (SELECT aql_ordered(v) AS o) s
    $$
    """,
    # ISO 8601 date/time text to a timestamp; NULL (never an error) when it is not one.
    """
    CREATE FUNCTION aql_ts(t text) RETURNS timestamptz
    LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
    BEGIN
      IF t IS NULL OR t !~ '^\\d{4}-\\d{2}(-\\d{2})?([T ][0-9:.,]+(Z|[+-]\\d{2}(:?\\d{2})?)?)?$'
      THEN RETURN NULL; END IF;
      RETURN t::timestamptz;
    EXCEPTION WHEN others THEN RETURN NULL;
    END $$
    """,
]


def upgrade() -> None:
    for ddl in _FUNCTIONS:
        op.execute(ddl)
    # CONTAINS within one EHR when no archetype is given (e.g. COMPOSITION c).
    op.create_index("entry_ehr_type", "entry", ["ehr_id", "rm_type", "archetype_id"])
    op.create_table(
        "stored_query",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("major", sa.Integer, primary_key=True),
        sa.Column("minor", sa.Integer, primary_key=True),
        sa.Column("patch", sa.Integer, primary_key=True),
        sa.Column("query_type", sa.Text, nullable=False),
        sa.Column("q", sa.Text, nullable=False),
        sa.Column("saved", sa.DateTime(timezone=True), nullable=False),
        sa.Column("saved_by", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("stored_query")
    op.drop_index("entry_ehr_type", "entry")
    for name in ("aql_ts(text)", "aql_text(jsonb)", "aql_num(jsonb)", "aql_ordered(jsonb)"):
        op.execute(f"DROP FUNCTION {name}")
