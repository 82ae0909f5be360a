"""Tables of the patient index (SQLAlchemy Core; the migrations create them)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

__all__ = [
    "golden_record",
    "identifier",
    "link_exclusion",
    "match_parameters",
    "merge_record",
    "metadata",
    "review_item",
    "source_record",
]

metadata = sa.MetaData()
_now = sa.func.now()

golden_record = sa.Table(
    "golden_record",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("replaced_by", UUID(as_uuid=True)),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("record_of_truth", UUID(as_uuid=True)),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("snapshot", JSONB, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
)

source_record = sa.Table(
    "source_record",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("system", sa.Text, nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("golden_id", UUID(as_uuid=True), sa.ForeignKey("golden_record.id"), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("replaced_by", UUID(as_uuid=True)),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("validation_date", sa.Date),
    sa.Column("ins_matricule", sa.Text),
    sa.Column("ins_oid", sa.Text),
    sa.Column("billing_nir", sa.Text),
    sa.Column("traits", JSONB, nullable=False),
    sa.Column("other_identifiers", JSONB, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    # normalised keys: blocking and PDQm search (domain.normalise)
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
    sa.Column("block_keys", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.UniqueConstraint("system", "value", name="source_record_identifier_key"),
)

#: Every local identifier of every source record; the primary key makes an identifier
#: belong to one record only (no search before insert).
identifier = sa.Table(
    "identifier",
    metadata,
    sa.Column("system", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, primary_key=True),
    sa.Column("source_id", UUID(as_uuid=True), sa.ForeignKey("source_record.id"), nullable=False),
)

#: Pairs a person said are not the same: never linked automatically again.
link_exclusion = sa.Table(
    "link_exclusion",
    metadata,
    sa.Column("source_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("golden_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("by", sa.Text),
    sa.Column("reason", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
)

review_item = sa.Table(
    "review_item",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("source_id", UUID(as_uuid=True), sa.ForeignKey("source_record.id"), nullable=False),
    sa.Column("candidate_id", UUID(as_uuid=True), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("contributions", JSONB, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="open"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("resolved_at", sa.DateTime(timezone=True)),
    sa.Column("resolved_by", sa.Text),
    sa.Column("resolution", sa.Text),
    sa.Column("comment", sa.Text),
)

merge_record = sa.Table(
    "merge_record",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("retired_id", UUID(as_uuid=True), nullable=False),
    sa.Column("survivor_id", UUID(as_uuid=True), nullable=False),
    sa.Column("moved_sources", ARRAY(UUID(as_uuid=True)), nullable=False),
    sa.Column("by", sa.Text),
    sa.Column("reason", sa.Text),
    sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("undone_at", sa.DateTime(timezone=True)),
    sa.Column("undone_by", sa.Text),
)

match_parameters = sa.Table(
    "match_parameters",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("levels", JSONB, nullable=False),
    sa.Column("match_share", sa.Float, nullable=False),
    sa.Column("pairs", sa.Integer, nullable=False),
    sa.Column("iterations", sa.Integer, nullable=False),
)
