"""Tables of the EHR store (the schema is created by the Alembic migrations beside this).

Design (ARCHITECTURE §6, issue 3 "Storage"):
- ``ehr``: one row per EHR; the subject columns project the current EHR_STATUS subject
  (unique: one EHR per subject, and the index of ``GET /ehr?subject_id=``).
- ``versioned_object``: the *head* of every versioned object (COMPOSITION, EHR_STATUS,
  FOLDER): its latest version number, which optimistic updates compare-and-set.
- ``object_version``: the *history*, one row per ORIGINAL_VERSION with its AUDIT_DETAILS
  and its canonical JSON (JSONB; NULL for a deletion tombstone).
- ``entry``: each composition version decomposed into its archetype-rooted nodes (one row
  per COMPOSITION/SECTION/ENTRY/CLUSTER root: archetype id, AQL path, JSON location), so
  that AQL ``CONTAINS`` finds candidates by index and extracts by ``data #> json_path``
  without a second copy of the clinical data.
- ``contribution``: the change-set every version belongs to, with its audit.
- ``template``: uploaded ADL 1.4 operational templates (the OPT XML kept verbatim).
- ``folder_node`` / ``folder_item``: every FOLDER of every directory version in pre-order
  with nested-set bounds (``ord``..``last_ord``), and the OBJECT_REFs each holds (the
  composition's object id in ``composition_id``), for AQL ``FOLDER f CONTAINS COMPOSITION``.
- ``ehr_link``: patient merges — an EHR re-pointed to the surviving patient, or retired
  behind the survivor's EHR (``merged_into``); ``unmerged_at`` set when undone.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

__all__ = [
    "contribution",
    "ehr",
    "ehr_erasure",
    "ehr_link",
    "entry",
    "folder_item",
    "folder_node",
    "metadata",
    "object_version",
    "template",
    "versioned_object",
]

metadata = sa.MetaData()

ehr = sa.Table(
    "ehr",
    metadata,
    sa.Column("ehr_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("system_id", sa.Text, nullable=False),
    sa.Column("time_created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("subject_namespace", sa.Text),
    sa.Column("subject_id", sa.Text),
    sa.Column("ehr_status_id", UUID(as_uuid=True), nullable=False),
    sa.Column("is_queryable", sa.Boolean, nullable=False),
    sa.Column("is_modifiable", sa.Boolean, nullable=False),
    sa.Column("created_by", sa.Text),
    sa.Column("directory_id", UUID(as_uuid=True)),
)

contribution = sa.Table(
    "contribution",
    metadata,
    sa.Column("contribution_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("ehr_id", UUID(as_uuid=True), sa.ForeignKey("ehr.ehr_id"), nullable=False),
    sa.Column("system_id", sa.Text, nullable=False),
    sa.Column("time_committed", sa.DateTime(timezone=True), nullable=False),
    sa.Column("committer", JSONB, nullable=False),
    sa.Column("change_type", sa.Text, nullable=False),
    sa.Column("description", sa.Text),
)

versioned_object = sa.Table(
    "versioned_object",
    metadata,
    sa.Column("vo_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("ehr_id", UUID(as_uuid=True), sa.ForeignKey("ehr.ehr_id"), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("time_created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("latest_version", sa.Integer, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("template_id", sa.Text),
)

object_version = sa.Table(
    "object_version",
    metadata,
    sa.Column(
        "vo_id", UUID(as_uuid=True), sa.ForeignKey("versioned_object.vo_id"), primary_key=True
    ),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("ehr_id", UUID(as_uuid=True), nullable=False),
    sa.Column(
        "contribution_id",
        UUID(as_uuid=True),
        sa.ForeignKey("contribution.contribution_id"),
        nullable=False,
    ),
    sa.Column("time_committed", sa.DateTime(timezone=True), nullable=False),
    sa.Column("committer", JSONB, nullable=False),
    sa.Column("change_type", sa.Text, nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("lifecycle_state", sa.Text, nullable=False),
    sa.Column("template_id", sa.Text),
    sa.Column("archetype_node_id", sa.Text),
    sa.Column("data", JSONB),
)

entry = sa.Table(
    "entry",
    metadata,
    sa.Column("vo_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("ord", sa.SmallInteger, primary_key=True),
    sa.Column("ehr_id", UUID(as_uuid=True), nullable=False),
    sa.Column("template_id", sa.Text),
    sa.Column("archetype_id", sa.Text, nullable=False),
    sa.Column("rm_type", sa.Text, nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("json_path", ARRAY(sa.Text), nullable=False),
)

template = sa.Table(
    "template",
    metadata,
    sa.Column("template_id", sa.Text, primary_key=True),
    sa.Column("uid", sa.Text),
    sa.Column("concept", sa.Text, nullable=False),
    sa.Column("archetype_id", sa.Text, nullable=False),
    sa.Column("sha256", sa.Text, nullable=False),
    sa.Column("opt", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.Text),
)

folder_node = sa.Table(
    "folder_node",
    metadata,
    sa.Column("vo_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("ord", sa.Integer, primary_key=True),
    sa.Column("last_ord", sa.Integer, nullable=False),
    sa.Column("parent_ord", sa.Integer),
    sa.Column("depth", sa.SmallInteger, nullable=False),
    sa.Column("ehr_id", UUID(as_uuid=True), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("archetype_node_id", sa.Text),
    sa.Column("uid", sa.Text),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("json_path", ARRAY(sa.Text), nullable=False),
)

folder_item = sa.Table(
    "folder_item",
    metadata,
    sa.Column("vo_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("node_ord", sa.Integer, primary_key=True),
    sa.Column("pos", sa.Integer, primary_key=True),
    sa.Column("ehr_id", UUID(as_uuid=True), nullable=False),
    sa.Column("item_id", sa.Text, nullable=False),
    sa.Column("composition_id", UUID(as_uuid=True)),
    sa.Column("item_version", sa.Integer),
    sa.Column("namespace", sa.Text),
    sa.Column("type", sa.Text),
)

ehr_link = sa.Table(
    "ehr_link",
    metadata,
    sa.Column("link_id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("ehr_id", UUID(as_uuid=True), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("patient_id", UUID(as_uuid=True), nullable=False),
    sa.Column("survivor_id", UUID(as_uuid=True), nullable=False),
    sa.Column("survivor_ehr_id", UUID(as_uuid=True)),
    sa.Column("was_modifiable", sa.Boolean, nullable=False),
    sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("merge_event_id", sa.Text, nullable=False),
    sa.Column("unmerged_at", sa.DateTime(timezone=True)),
)

#: The tombstone of an erased EHR (migration 0008): no subject, no clinical content.
ehr_erasure = sa.Table(
    "ehr_erasure",
    metadata,
    sa.Column("ehr_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("system_id", sa.Text, nullable=False),
    sa.Column("time_created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("requested_by", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("removed", JSONB, nullable=False),
)
