"""Journal (outbox), its counter, and the inbox of processed events.

Revision ID: platform_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "platform_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "journal",
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
    op.create_index(
        "journal_unpublished", "journal", ["seq"], postgresql_where=sa.text("published_at IS NULL")
    )
    op.create_index("journal_topic", "journal", ["topic", "seq"])
    op.create_table(
        "journal_counter",
        sa.Column("id", sa.SmallInteger, primary_key=True),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO journal_counter (id, last_seq) VALUES (1, 0)")
    # The journal is append-only: only published_at may change (ARCHITECTURE §4.3).
    op.execute("""
        CREATE FUNCTION journal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'journal is append-only: DELETE refused';
          END IF;
          IF (NEW.seq, NEW.event_id, NEW.topic, NEW.event_key, NEW.event_type,
              NEW.attributes, NEW.data, NEW.recorded_at)
             IS DISTINCT FROM
             (OLD.seq, OLD.event_id, OLD.topic, OLD.event_key, OLD.event_type,
              OLD.attributes, OLD.data, OLD.recorded_at) THEN
            RAISE EXCEPTION 'journal is append-only: only published_at may change';
          END IF;
          RETURN NEW;
        END $$;
    """)
    op.execute("""
        CREATE TRIGGER journal_append_only BEFORE UPDATE OR DELETE ON journal
        FOR EACH ROW EXECUTE FUNCTION journal_append_only();
    """)
    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.Text, primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    op.drop_table("processed_events")
    op.execute("DROP TRIGGER journal_append_only ON journal")
    op.execute("DROP FUNCTION journal_append_only()")
    op.drop_table("journal_counter")
    op.drop_table("journal")
