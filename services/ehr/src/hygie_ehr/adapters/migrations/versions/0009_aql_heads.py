"""AQL: the heads of compositions by template, for population queries.

A COMPOSITION at the root of a containment (``FROM COMPOSITION c``, ``FROM EHR e CONTAINS
COMPOSITION c``) is read from ``versioned_object`` — one row per composition, its latest
version, its template — instead of the ``entry`` index joined back to its head. This index
serves ``SELECT c/archetype_details/template_id/value, COUNT(*) FROM COMPOSITION c`` as an
index-only count, and a template filter without reading any document. Partial: live
compositions only (EHR_STATUS and FOLDER heads and deleted compositions are not in it);
``latest_version`` is not a key, so a new version still updates its head in place (HOT).

Revision ID: ehr_0009
Revises: ehr_0008
"""

from alembic import op

revision = "ehr_0009"
down_revision = "ehr_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX versioned_object_composition_template ON versioned_object"
        " (template_id, ehr_id) WHERE kind = 'COMPOSITION' AND NOT deleted"
    )


def downgrade() -> None:
    op.execute("DROP INDEX versioned_object_composition_template")
