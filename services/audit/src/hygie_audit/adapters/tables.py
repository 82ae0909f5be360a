"""Tables of the audit service (migration audit_0002)."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA, UUID

__all__ = [
    "audit_entry",
    "audit_pending",
    "ehr_subject",
    "merkle_node",
    "metadata",
    "retention_purge",
    "tree_head",
]

metadata = sa.MetaData()
_now = sa.func.now()

#: Records received (from topics or the ATX feed) and not yet given a log position.
audit_pending = sa.Table(
    "audit_pending",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("resource", BYTEA, nullable=False),  # the AuditEvent, orjson bytes
    sa.Column("source_event_type", sa.Text),
    sa.Column("subject", sa.Text),
    sa.Column("trace_id", sa.Text),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
)

#: The log: one AuditEvent per gap-free position ``seq`` (the Merkle leaf index). ``body`` is
#: the canonical bytes the leaf hashes; the other columns are its search index.
audit_entry = sa.Table(
    "audit_entry",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("recorded", sa.DateTime(timezone=True), nullable=False),
    sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("patient", sa.Text),
    sa.Column("agents", ARRAY(sa.Text), nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("subtypes", ARRAY(sa.Text), nullable=False),
    sa.Column("action", sa.Text),
    sa.Column("outcome", sa.Text),
    sa.Column("entities", ARRAY(sa.Text), nullable=False),
    sa.Column("purposes", ARRAY(sa.Text), nullable=False),
    sa.Column("source_event_type", sa.Text),
    sa.Column("subject", sa.Text),
    sa.Column("trace_id", sa.Text),
    sa.Column("body", BYTEA, nullable=False),
    sa.Column("report_line", BYTEA),  # orjson of domain.summary.summary_of(resource)
)

#: Complete aligned subtrees: (level, index) → hash; level 0 are the leaf hashes. Kept
#: when retention prunes records, so that the tree stays verifiable.
merkle_node = sa.Table(
    "merkle_node",
    metadata,
    sa.Column("level", sa.SmallInteger, primary_key=True),
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", BYTEA, nullable=False),
)

tree_head = sa.Table(
    "tree_head",
    metadata,
    sa.Column("log_id", sa.Text, primary_key=True),
    sa.Column("timestamp_ms", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("tree_size", sa.BigInteger, nullable=False),
    sa.Column("root_hash", BYTEA, nullable=False),
    sa.Column("signature", BYTEA, nullable=False),
)

#: Which EHR belongs to which patient (from hygie.ehr.ehr.created.v1), to name the patient
#: of EHR changes.
ehr_subject = sa.Table(
    "ehr_subject",
    metadata,
    sa.Column("ehr_id", sa.Text, primary_key=True),
    sa.Column("patient", sa.Text, nullable=False),
)

#: Every retention purge: records with ``seq < below_seq`` were deleted, their hashes kept.
retention_purge = sa.Table(
    "retention_purge",
    metadata,
    sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("below_seq", sa.BigInteger, nullable=False),
    sa.Column("deleted", sa.BigInteger, nullable=False),
    sa.Column("cutoff", sa.DateTime(timezone=True), nullable=False),
    sa.Column("purged_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
)
