"""AQL planning: an index on the start time of compositions, and a list-element function
the planner does not take for a thousand rows.

``c/context/start_time/value`` compared with a date (``WHERE c/context/start_time/value >=
'2024-03-01'``) is compiled to ``aql_start_time(data)``, which this index serves: a date
range reads the compositions of that period instead of every document (a composition's
JSON is TOASTed; reading it is the cost of a population query).

``aql_elements`` is ``jsonb_path_query`` with a row estimate of 2 (the elements of a list
reached by a path: a few events, items): with the built-in's estimate of 1,000 rows per
call, a query crossing two lists was expected to return millions of rows, and under the
row cap's LIMIT the planner chose start-up-cheap nested loops over whole tables.

Revision ID: ehr_0007
Revises: ehr_0006
"""

from alembic import op

revision = "ehr_0007"
down_revision = "ehr_0006"
branch_labels = None
depends_on = None

# IMMUTABLE (an index needs it): the start time is an ISO 8601 date-time; one without an
# offset is read in the server's time zone, as ``aql_ts`` does.
_FUNCTION = """
CREATE FUNCTION aql_start_time(data jsonb) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE t text := data #>> '{context,start_time,value}';
BEGIN
  IF t IS NULL OR t !~ '^\\d{4}-\\d{2}(-\\d{2})?([T ][0-9:.,]+(Z|[+-]\\d{2}(:?\\d{2})?)?)?$'
  THEN RETURN NULL; END IF;
  RETURN t::timestamptz;
EXCEPTION WHEN others THEN RETURN NULL;
END $$
"""


_ELEMENTS = """
CREATE FUNCTION aql_elements(doc jsonb, path jsonpath, vars jsonb) RETURNS SETOF jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE ROWS 2 AS $$
BEGIN
  RETURN QUERY SELECT jsonb_path_query(doc, path, vars);
END $$
"""


def upgrade() -> None:
    op.execute(_FUNCTION)
    op.execute(_ELEMENTS)
    op.execute("CREATE INDEX object_version_start_time ON object_version (aql_start_time(data))")


def downgrade() -> None:
    op.execute("DROP INDEX object_version_start_time")
    op.execute("DROP FUNCTION aql_start_time(jsonb)")
    op.execute("DROP FUNCTION aql_elements(jsonb, jsonpath, jsonb)")
