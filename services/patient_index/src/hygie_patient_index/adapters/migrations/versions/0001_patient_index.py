"""Patient index: golden records, source records, identifiers, exclusions, review, merges.

Revision ID: patient_index_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "patient_index_0001"
down_revision = None
branch_labels = None
depends_on = None

NOW = sa.text("now()")


def _uuid(name: str, *args: object, **kw: object) -> sa.Column:
    return sa.Column(name, UUID(as_uuid=True), *args, **kw)


def _at(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=None if nullable else NOW,
    )


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "golden_record",
        _uuid("id", primary_key=True),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        _uuid("replaced_by"),
        sa.Column("status", sa.Text, nullable=False),
        _uuid("record_of_truth"),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("snapshot", JSONB, nullable=False),
        _at("created_at"),
        _at("updated_at"),
    )
    op.create_table(
        "source_record",
        _uuid("id", primary_key=True),
        sa.Column("system", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        _uuid("golden_id", sa.ForeignKey("golden_record.id"), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        _uuid("replaced_by"),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("validation_date", sa.Date),
        sa.Column("ins_matricule", sa.Text),
        sa.Column("ins_oid", sa.Text),
        sa.Column("billing_nir", sa.Text),
        sa.Column("traits", JSONB, nullable=False),
        sa.Column("other_identifiers", JSONB, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("family_phon", ARRAY(sa.Text), nullable=False),
        sa.Column("family_search", sa.Text, nullable=False),
        sa.Column("given_search", sa.Text, nullable=False),
        sa.Column("first_given_phon", sa.Text),
        sa.Column("first_initial", sa.Text),
        sa.Column("birth_date", sa.Date),
        sa.Column("birth_year", sa.Integer),
        sa.Column("sex", sa.Text, nullable=False),
        sa.Column("birth_place_code", sa.Text),
        sa.Column("postal_code", sa.Text),
        _at("created_at"),
        _at("updated_at"),
        # A source record per (assigning authority, local identifier): a constraint.
        sa.UniqueConstraint("system", "value", name="source_record_identifier_key"),
    )
    op.create_table(
        "identifier",
        sa.Column("system", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, primary_key=True),
        _uuid("source_id", sa.ForeignKey("source_record.id"), nullable=False),
    )
    op.create_table(
        "link_exclusion",
        _uuid("source_id", primary_key=True),
        _uuid("golden_id", primary_key=True),
        sa.Column("by", sa.Text),
        sa.Column("reason", sa.Text),
        _at("created_at"),
    )
    op.create_table(
        "review_item",
        _uuid("id", primary_key=True),
        _uuid("source_id", sa.ForeignKey("source_record.id"), nullable=False),
        _uuid("candidate_id", nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("contributions", JSONB, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="open"),
        _at("created_at"),
        _at("resolved_at", nullable=True),
        sa.Column("resolved_by", sa.Text),
        sa.Column("resolution", sa.Text),
        sa.Column("comment", sa.Text),
    )
    op.create_table(
        "merge_record",
        _uuid("id", primary_key=True),
        _uuid("retired_id", nullable=False),
        _uuid("survivor_id", nullable=False),
        sa.Column("moved_sources", ARRAY(UUID(as_uuid=True)), nullable=False),
        sa.Column("by", sa.Text),
        sa.Column("reason", sa.Text),
        _at("merged_at"),
        _at("undone_at", nullable=True),
        sa.Column("undone_by", sa.Text),
    )
    # Blocking rules of the matcher (service.matching), one index each.
    op.create_index("source_family_phon", "source_record", ["family_phon"], postgresql_using="gin")
    op.create_index("source_birth_year", "source_record", ["birth_year"])
    op.create_index("source_birth_date_initial", "source_record", ["birth_date", "first_initial"])
    op.create_index(
        "source_place_sex_given", "source_record", ["birth_place_code", "sex", "first_given_phon"]
    )
    # Deterministic matching on the INS (not unique: every facility has its own record).
    op.create_index("source_ins", "source_record", ["ins_matricule", "ins_oid"])
    op.create_index("source_golden", "source_record", ["golden_id"])
    # PDQm string search (starts-with, accent- and case-insensitive) on normalised names.
    op.execute(
        "CREATE INDEX source_family_trgm ON source_record USING gin (family_search gin_trgm_ops)"
    )
    op.execute(
        "CREATE INDEX source_given_trgm ON source_record USING gin (given_search gin_trgm_ops)"
    )
    op.create_index("identifier_source", "identifier", ["source_id"])
    op.execute(
        "CREATE UNIQUE INDEX review_open_pair ON review_item (source_id, candidate_id) "
        "WHERE status = 'open'"
    )
    op.create_index("review_status", "review_item", ["status", "created_at"])
    op.create_index("merge_retired", "merge_record", ["retired_id"])


def downgrade() -> None:
    for table in (
        "merge_record",
        "review_item",
        "link_exclusion",
        "identifier",
        "source_record",
        "golden_record",
    ):
        op.drop_table(table)
