"""Two indexes of the first blocking rules, no longer read since blocking moved to
``block_keys`` (0003): birth year, and birth place + sex + phonetic given name. Every
insert of a source record (one by one or by COPY in the bulk load) paid for them.

Revision ID: patient_index_0005
Revises: patient_index_0004
"""

from alembic import op

revision = "patient_index_0005"
down_revision = "patient_index_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("source_birth_year", "source_record")
    op.drop_index("source_place_sex_given", "source_record")


def downgrade() -> None:
    op.create_index("source_birth_year", "source_record", ["birth_year"])
    op.create_index(
        "source_place_sex_given", "source_record", ["birth_place_code", "sex", "first_given_phon"]
    )
