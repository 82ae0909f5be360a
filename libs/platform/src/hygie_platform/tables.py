"""Tables every service database has: the journal (outbox) and the inbox (ARCHITECTURE §4.3)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

__all__ = ["journal", "journal_counter", "metadata", "processed_events"]

metadata = sa.MetaData()

#: Every event the service announced, in commit order, kept forever: the replay source.
journal = sa.Table(
    "journal",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("event_key", sa.Text, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("attributes", JSONB, nullable=False),
    sa.Column("data", JSONB, nullable=False),
    sa.Column(
        "recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column("published_at", sa.DateTime(timezone=True)),
)

#: One row holding the last journal sequence number. Taking it under a row lock in the
#: writing transaction makes the sequence gap-free and equal to commit order.
journal_counter = sa.Table(
    "journal_counter",
    metadata,
    sa.Column("id", sa.SmallInteger, primary_key=True),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
)

#: Idempotent consumers: the key of each event a consumer applied, written with the effect.
processed_events = sa.Table(
    "processed_events",
    metadata,
    sa.Column("consumer", sa.Text, primary_key=True),
    sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)
