"""Record bodies stored inline and uncompressed: ``toast_tuple_target`` at its maximum.

Revision ID: audit_0005
Revises: audit_0004

A record's canonical bytes are ~2 KB, just above the default toast threshold, so every
row was pglz-compressed on append and decompressed on every read (verification streams
them all). The servers we run on are not all built with lz4 (the embedded one is not).
Measured on the embedded server, 200,000 rows of ~2 KB: COPY in 52k → 92k rows/s, binary
COPY out 197k → 258k rows/s, for 1,389 → 2,755 bytes per row on disk. Records above
~8 KB are still compressed. A reloption is DDL, not an UPDATE: the append-only trigger
does not fire, and rows already stored keep their form (both read the same).
"""

from alembic import op

revision = "audit_0005"
down_revision = "audit_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE audit_entry SET (toast_tuple_target = 8160)")


def downgrade() -> None:
    op.execute("ALTER TABLE audit_entry RESET (toast_tuple_target)")
