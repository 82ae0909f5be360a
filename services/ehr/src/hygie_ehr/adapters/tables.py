"""Tables of the EHR store."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

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
)
