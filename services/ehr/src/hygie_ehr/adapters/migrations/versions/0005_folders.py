"""Directory: every FOLDER of every directory version, numbered in pre-order with
nested-set bounds, and the OBJECT_REF items each folder holds — so that AQL
``FOLDER f CONTAINS COMPOSITION c`` joins by index instead of walking the JSON.

Revision ID: ehr_0005
Revises: ehr_0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "ehr_0005"
down_revision = "ehr_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "folder_node",
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
        sa.ForeignKeyConstraint(
            ["vo_id", "version"], ["object_version.vo_id", "object_version.version"]
        ),
    )
    op.create_index("folder_node_ehr", "folder_node", ["ehr_id", "archetype_node_id"])
    op.create_table(
        "folder_item",
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
        sa.ForeignKeyConstraint(
            ["vo_id", "version", "node_ord"],
            ["folder_node.vo_id", "folder_node.version", "folder_node.ord"],
        ),
    )
    # Which folders (of which directory versions) reference a composition.
    op.create_index("folder_item_composition", "folder_item", ["composition_id"])
    op.create_index("folder_item_ehr", "folder_item", ["ehr_id"])


def downgrade() -> None:
    op.drop_table("folder_item")
    op.drop_table("folder_node")
