"""Versioned store: contributions, versioned objects (heads), versions (history with audit
and canonical JSON), archetype-rooted entries (for AQL) and operational templates.

Revision ID: ehr_0002
Revises: ehr_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "ehr_0002"
down_revision = "ehr_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ehr", sa.Column("directory_id", UUID(as_uuid=True)))
    op.create_table(
        "contribution",
        sa.Column("contribution_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("ehr_id", UUID(as_uuid=True), sa.ForeignKey("ehr.ehr_id"), nullable=False),
        sa.Column("system_id", sa.Text, nullable=False),
        sa.Column("time_committed", sa.DateTime(timezone=True), nullable=False),
        sa.Column("committer", JSONB, nullable=False),
        sa.Column("change_type", sa.Text, nullable=False),
        sa.Column("description", sa.Text),
    )
    op.create_index("contribution_ehr", "contribution", ["ehr_id", "time_committed"])
    op.create_table(
        "versioned_object",
        sa.Column("vo_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("ehr_id", UUID(as_uuid=True), sa.ForeignKey("ehr.ehr_id"), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("time_created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latest_version", sa.Integer, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("template_id", sa.Text),
        sa.CheckConstraint(
            "kind IN ('COMPOSITION', 'EHR_STATUS', 'FOLDER')", name="versioned_object_kind"
        ),
        sa.CheckConstraint("latest_version >= 1", name="versioned_object_version"),
    )
    op.create_index("versioned_object_ehr", "versioned_object", ["ehr_id", "kind"])
    op.create_table(
        "object_version",
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
    # version_at_time: the last version of an object committed at or before a time.
    op.create_index("object_version_time", "object_version", ["vo_id", "time_committed"])
    op.create_index("object_version_contribution", "object_version", ["contribution_id"])
    op.create_table(
        "entry",
        sa.Column("vo_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("ord", sa.SmallInteger, primary_key=True),
        sa.Column("ehr_id", UUID(as_uuid=True), nullable=False),
        sa.Column("template_id", sa.Text),
        sa.Column("archetype_id", sa.Text, nullable=False),
        sa.Column("rm_type", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("json_path", ARRAY(sa.Text), nullable=False),
        sa.ForeignKeyConstraint(
            ["vo_id", "version"], ["object_version.vo_id", "object_version.version"]
        ),
    )
    # AQL: CONTAINS OBSERVATION o[archetype] [within one EHR]
    op.create_index("entry_archetype", "entry", ["archetype_id", "ehr_id"])
    op.create_table(
        "template",
        sa.Column("template_id", sa.Text, primary_key=True),
        sa.Column("uid", sa.Text),
        sa.Column("concept", sa.Text, nullable=False),
        sa.Column("archetype_id", sa.Text, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("opt", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Text),
    )
    # EHRs created by the walking skeleton get their first EHR_STATUS version.
    op.execute("""
        CREATE TEMP TABLE _backfill ON COMMIT DROP AS
        SELECT e.*, gen_random_uuid() AS contribution_id FROM ehr e
        WHERE NOT EXISTS (SELECT 1 FROM versioned_object v WHERE v.vo_id = e.ehr_status_id)
    """)
    op.execute("""
        INSERT INTO contribution (contribution_id, ehr_id, system_id, time_committed, committer,
                                  change_type)
        SELECT contribution_id, ehr_id, system_id, time_created,
               jsonb_build_object('_type', 'PARTY_IDENTIFIED',
                                  'name', coalesce(created_by, 'system')),
               'creation' FROM _backfill
    """)
    op.execute("""
        INSERT INTO versioned_object (vo_id, ehr_id, kind, time_created, latest_version)
        SELECT ehr_status_id, ehr_id, 'EHR_STATUS', time_created, 1 FROM _backfill
    """)
    op.execute("""
        INSERT INTO object_version (vo_id, version, ehr_id, contribution_id, time_committed,
                                    committer, change_type, lifecycle_state, archetype_node_id,
                                    data)
        SELECT ehr_status_id, 1, ehr_id, contribution_id, time_created,
               jsonb_build_object('_type', 'PARTY_IDENTIFIED',
                                  'name', coalesce(created_by, 'system')),
               'creation', 'complete', 'openEHR-EHR-EHR_STATUS.generic.v1',
               jsonb_build_object(
                 '_type', 'EHR_STATUS',
                 'archetype_node_id', 'openEHR-EHR-EHR_STATUS.generic.v1',
                 'name', jsonb_build_object('_type', 'DV_TEXT', 'value', 'EHR Status'),
                 'subject', CASE WHEN subject_id IS NULL
                   THEN jsonb_build_object('_type', 'PARTY_SELF')
                   ELSE jsonb_build_object('_type', 'PARTY_SELF',
                     'external_ref', jsonb_build_object(
                     'id', jsonb_build_object('_type', 'GENERIC_ID', 'value', subject_id,
                                              'scheme', 'id_scheme'),
                     'namespace', subject_namespace, 'type', 'PERSON')) END,
                 'is_queryable', is_queryable, 'is_modifiable', is_modifiable)
        FROM _backfill
    """)


def downgrade() -> None:
    op.drop_table("entry")
    op.drop_table("object_version")
    op.drop_table("versioned_object")
    op.drop_table("contribution")
    op.drop_table("template")
    op.drop_column("ehr", "directory_id")
