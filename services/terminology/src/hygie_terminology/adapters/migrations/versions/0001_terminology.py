"""Terminology: OMOP vocabulary releases (each in its own schema) and FHIR resources.

Revision ID: terminology_0001
Revises:
"""

from alembic import op

revision = "terminology_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        """
        CREATE TABLE release (
            id bigserial PRIMARY KEY,
            label text NOT NULL,
            schema_name text NOT NULL UNIQUE,
            status text NOT NULL CHECK (status IN
                ('loading', 'ready', 'active', 'superseded', 'rejected', 'dropped')),
            source text NOT NULL,
            dialect text,
            vocabularies jsonb NOT NULL DEFAULT '[]',
            counts jsonb NOT NULL DEFAULT '{}',
            problems jsonb NOT NULL DEFAULT '[]',
            created_at timestamptz NOT NULL DEFAULT now(),
            activated_at timestamptz,
            finished_at timestamptz
        )
        """
    )
    # At most one release answers queries.
    op.execute("CREATE UNIQUE INDEX release_one_active ON release (status) WHERE status = 'active'")
    op.execute(
        """
        CREATE TABLE fhir_resource (
            resource_type text NOT NULL
                CHECK (resource_type IN ('CodeSystem', 'ValueSet', 'ConceptMap')),
            url text NOT NULL,
            version text NOT NULL DEFAULT '',
            id text NOT NULL,
            name text,
            title text,
            status text NOT NULL,
            content jsonb NOT NULL,
            loaded_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (resource_type, url, version),
            UNIQUE (resource_type, id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE fhir_concept (
            url text NOT NULL,
            version text NOT NULL,
            code text NOT NULL,
            display text,
            definition text,
            parents text[] NOT NULL DEFAULT '{}',
            designations jsonb NOT NULL DEFAULT '[]',
            properties jsonb NOT NULL DEFAULT '[]',
            PRIMARY KEY (url, version, code)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE fhir_map (
            url text NOT NULL,
            version text NOT NULL,
            source_system text NOT NULL,
            source_code text NOT NULL,
            target_system text NOT NULL DEFAULT '',
            target_code text NOT NULL DEFAULT '',
            target_display text,
            equivalence text NOT NULL,
            PRIMARY KEY (url, version, source_system, source_code, target_system, target_code)
        )
        """
    )
    op.execute("CREATE INDEX fhir_map_source ON fhir_map (source_system, source_code)")


def downgrade() -> None:
    for table in ("fhir_map", "fhir_concept", "fhir_resource", "release"):
        op.execute(f"DROP TABLE {table}")
