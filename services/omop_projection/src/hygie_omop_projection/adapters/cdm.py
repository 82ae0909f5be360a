"""OMOP CDM 5.4 tables filled by the projection, and the DDL of one generation schema.

Columns, types and nullability follow the CDM 5.4 PostgreSQL DDL (OHDSI CommonDataModel,
``inst/ddl/5.4/postgresql``); a conformance test compares them with the specification's
field-level CSV. Primary keys as in the CDM (``death`` has none there: a unique person_id
index stands in, one death per person). Foreign keys to the vocabulary are not created:
the vocabulary lives in the terminology service, and the DQD checks report them instead.
"""

from __future__ import annotations

import re

__all__ = ["CDM_TABLES", "PRIMARY_KEYS", "STATE_DDL", "column_types", "generation_ddl"]

_I, _D, _T, _N = "integer", "date", "TIMESTAMP", "NUMERIC"


def _v(n: int) -> str:
    return f"varchar({n})"


#: table -> [(column, type, required)], in CDM order
CDM_TABLES: dict[str, list[tuple[str, str, bool]]] = {
    "person": [
        ("person_id", _I, True), ("gender_concept_id", _I, True), ("year_of_birth", _I, True),
        ("month_of_birth", _I, False), ("day_of_birth", _I, False), ("birth_datetime", _T, False),
        ("race_concept_id", _I, True), ("ethnicity_concept_id", _I, True),
        ("location_id", _I, False), ("provider_id", _I, False), ("care_site_id", _I, False),
        ("person_source_value", _v(50), False), ("gender_source_value", _v(50), False),
        ("gender_source_concept_id", _I, False), ("race_source_value", _v(50), False),
        ("race_source_concept_id", _I, False), ("ethnicity_source_value", _v(50), False),
        ("ethnicity_source_concept_id", _I, False),
    ],
    "observation_period": [
        ("observation_period_id", _I, True), ("person_id", _I, True),
        ("observation_period_start_date", _D, True), ("observation_period_end_date", _D, True),
        ("period_type_concept_id", _I, True),
    ],
    "visit_occurrence": [
        ("visit_occurrence_id", _I, True), ("person_id", _I, True), ("visit_concept_id", _I, True),
        ("visit_start_date", _D, True), ("visit_start_datetime", _T, False),
        ("visit_end_date", _D, True), ("visit_end_datetime", _T, False),
        ("visit_type_concept_id", _I, True), ("provider_id", _I, False),
        ("care_site_id", _I, False), ("visit_source_value", _v(50), False),
        ("visit_source_concept_id", _I, False), ("admitted_from_concept_id", _I, False),
        ("admitted_from_source_value", _v(50), False), ("discharged_to_concept_id", _I, False),
        ("discharged_to_source_value", _v(50), False),
        ("preceding_visit_occurrence_id", _I, False),
    ],
    "condition_occurrence": [
        ("condition_occurrence_id", _I, True), ("person_id", _I, True),
        ("condition_concept_id", _I, True), ("condition_start_date", _D, True),
        ("condition_start_datetime", _T, False), ("condition_end_date", _D, False),
        ("condition_end_datetime", _T, False), ("condition_type_concept_id", _I, True),
        ("condition_status_concept_id", _I, False), ("stop_reason", _v(20), False),
        ("provider_id", _I, False), ("visit_occurrence_id", _I, False),
        ("visit_detail_id", _I, False), ("condition_source_value", _v(50), False),
        ("condition_source_concept_id", _I, False),
        ("condition_status_source_value", _v(50), False),
    ],
    "drug_exposure": [
        ("drug_exposure_id", _I, True), ("person_id", _I, True), ("drug_concept_id", _I, True),
        ("drug_exposure_start_date", _D, True), ("drug_exposure_start_datetime", _T, False),
        ("drug_exposure_end_date", _D, True), ("drug_exposure_end_datetime", _T, False),
        ("verbatim_end_date", _D, False), ("drug_type_concept_id", _I, True),
        ("stop_reason", _v(20), False), ("refills", _I, False), ("quantity", _N, False),
        ("days_supply", _I, False), ("sig", "TEXT", False), ("route_concept_id", _I, False),
        ("lot_number", _v(50), False), ("provider_id", _I, False),
        ("visit_occurrence_id", _I, False), ("visit_detail_id", _I, False),
        ("drug_source_value", _v(50), False), ("drug_source_concept_id", _I, False),
        ("route_source_value", _v(50), False), ("dose_unit_source_value", _v(50), False),
    ],
    "procedure_occurrence": [
        ("procedure_occurrence_id", _I, True), ("person_id", _I, True),
        ("procedure_concept_id", _I, True), ("procedure_date", _D, True),
        ("procedure_datetime", _T, False), ("procedure_end_date", _D, False),
        ("procedure_end_datetime", _T, False), ("procedure_type_concept_id", _I, True),
        ("modifier_concept_id", _I, False), ("quantity", _I, False), ("provider_id", _I, False),
        ("visit_occurrence_id", _I, False), ("visit_detail_id", _I, False),
        ("procedure_source_value", _v(50), False), ("procedure_source_concept_id", _I, False),
        ("modifier_source_value", _v(50), False),
    ],
    "measurement": [
        ("measurement_id", _I, True), ("person_id", _I, True),
        ("measurement_concept_id", _I, True), ("measurement_date", _D, True),
        ("measurement_datetime", _T, False), ("measurement_time", _v(10), False),
        ("measurement_type_concept_id", _I, True), ("operator_concept_id", _I, False),
        ("value_as_number", _N, False), ("value_as_concept_id", _I, False),
        ("unit_concept_id", _I, False), ("range_low", _N, False), ("range_high", _N, False),
        ("provider_id", _I, False), ("visit_occurrence_id", _I, False),
        ("visit_detail_id", _I, False), ("measurement_source_value", _v(50), False),
        ("measurement_source_concept_id", _I, False), ("unit_source_value", _v(50), False),
        ("unit_source_concept_id", _I, False), ("value_source_value", _v(50), False),
        ("measurement_event_id", _I, False), ("meas_event_field_concept_id", _I, False),
    ],
    "observation": [
        ("observation_id", _I, True), ("person_id", _I, True),
        ("observation_concept_id", _I, True), ("observation_date", _D, True),
        ("observation_datetime", _T, False), ("observation_type_concept_id", _I, True),
        ("value_as_number", _N, False), ("value_as_string", _v(60), False),
        ("value_as_concept_id", _I, False), ("qualifier_concept_id", _I, False),
        ("unit_concept_id", _I, False), ("provider_id", _I, False),
        ("visit_occurrence_id", _I, False), ("visit_detail_id", _I, False),
        ("observation_source_value", _v(50), False), ("observation_source_concept_id", _I, False),
        ("unit_source_value", _v(50), False), ("qualifier_source_value", _v(50), False),
        ("value_source_value", _v(50), False), ("observation_event_id", _I, False),
        ("obs_event_field_concept_id", _I, False),
    ],
    "death": [
        ("person_id", _I, True), ("death_date", _D, True), ("death_datetime", _T, False),
        ("death_type_concept_id", _I, False), ("cause_concept_id", _I, False),
        ("cause_source_value", _v(50), False), ("cause_source_concept_id", _I, False),
    ],
    "cdm_source": [
        ("cdm_source_name", _v(255), True), ("cdm_source_abbreviation", _v(25), True),
        ("cdm_holder", _v(255), True), ("source_description", "TEXT", False),
        ("source_documentation_reference", _v(255), False), ("cdm_etl_reference", _v(255), False),
        ("source_release_date", _D, True), ("cdm_release_date", _D, True),
        ("cdm_version", _v(10), False), ("cdm_version_concept_id", _I, True),
        ("vocabulary_version", _v(20), True),
    ],
}  # fmt: skip

PRIMARY_KEYS = {
    table: cols[0][0] for table, cols in CDM_TABLES.items() if table not in ("cdm_source",)
}
#: the clinical (event) tables: rows produced by compositions, each traced in ``lineage``
CLINICAL_TABLES = (
    "visit_occurrence",
    "condition_occurrence",
    "drug_exposure",
    "procedure_occurrence",
    "measurement",
    "observation",
)

#: the projection's own state, beside the CDM tables in each generation schema
#: (compositions as JSON ``text``: written by orjson, only re-read whole — neither jsonb
#: nor json, whose input check parsed every body again; stored inline and uncompressed up
#: to a page: pglz on every body cost the server more CPU than the rest of a rebuild's
#: writes)
STATE_DDL = """
CREATE TABLE {s}.patient (patient_id uuid PRIMARY KEY, replaced_by uuid, active boolean NOT NULL,
  sex text NOT NULL, birth_date date, death_date date, identifiers jsonb NOT NULL DEFAULT '[]');
CREATE TABLE {s}.patient_identifier (system text NOT NULL, value text NOT NULL,
  patient_id uuid NOT NULL, PRIMARY KEY (system, value));
CREATE TABLE {s}.ehr (ehr_id uuid PRIMARY KEY, namespace text, subject_id text,
  person_id integer, queryable boolean NOT NULL DEFAULT true);
CREATE INDEX ehr_subject ON {s}.ehr (subject_id, namespace);
CREATE INDEX ehr_person ON {s}.ehr (person_id);
CREATE TABLE {s}.composition (versioned_object_id text PRIMARY KEY, ehr_id uuid NOT NULL,
  version_uid text NOT NULL, event_id uuid NOT NULL, composition text,
  deleted boolean NOT NULL DEFAULT false) WITH (toast_tuple_target = 8160);
CREATE INDEX composition_ehr ON {s}.composition (ehr_id);
CREATE TABLE {s}.lineage (omop_table text NOT NULL, omop_id integer NOT NULL,
  person_id integer NOT NULL, ehr_id uuid NOT NULL, versioned_object_id text NOT NULL,
  version_uid text NOT NULL, archetype_path text NOT NULL, event_id uuid NOT NULL,
  PRIMARY KEY (omop_table, omop_id));
CREATE INDEX lineage_composition ON {s}.lineage (versioned_object_id);
CREATE TABLE {s}.problem (versioned_object_id text NOT NULL, n integer NOT NULL,
  kind text NOT NULL, archetype_id text NOT NULL, path text NOT NULL, detail text NOT NULL,
  system text, code text, PRIMARY KEY (versioned_object_id, n));
CREATE INDEX problem_code ON {s}.problem (system, code);
CREATE TABLE {s}.concept_cache (vocabulary text NOT NULL, code text NOT NULL,
  concept_id integer NOT NULL, source_concept_id integer NOT NULL,
  PRIMARY KEY (vocabulary, code));
CREATE TABLE {s}.checkpoint (topic text NOT NULL, partition integer NOT NULL,
  next_offset bigint NOT NULL, PRIMARY KEY (topic, partition));
CREATE TABLE {s}.refresh (refreshed_at timestamptz PRIMARY KEY, events bigint NOT NULL,
  high_water jsonb NOT NULL);
"""

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def column_types(table: str) -> dict[str, str]:
    """Column -> CDM type of a table."""
    return {name: kind for name, kind, _ in CDM_TABLES[table]}


def generation_ddl(schema: str, *, unlogged: bool = False) -> list[str]:
    """Statements creating a generation schema: CDM tables, keys, indexes, state tables.
    ``unlogged``: every table UNLOGGED (how earlier versions built a generation;
    ``generations.make_durable`` makes it logged at the swap)."""
    if not _NAME.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    create = "CREATE UNLOGGED TABLE" if unlogged else "CREATE TABLE"
    out = [f"CREATE SCHEMA {schema}"]
    for table, columns in CDM_TABLES.items():
        body = ",\n  ".join(
            f"{name} {kind} {'NOT NULL' if required else 'NULL'}"
            for name, kind, required in columns
        )
        # cdm_source is written once at the start of a rebuild: logged, so a crash keeps it
        kind = "CREATE TABLE" if table == "cdm_source" else create
        out.append(f"{kind} {schema}.{table} (\n  {body})")
        if table in PRIMARY_KEYS and table != "death":
            out.append(
                f"ALTER TABLE {schema}.{table} ADD CONSTRAINT xpk_{table} "
                f"PRIMARY KEY ({PRIMARY_KEYS[table]})"
            )
        if table not in ("person", "cdm_source"):
            unique = "UNIQUE " if table == "death" else ""
            out.append(f"CREATE {unique}INDEX idx_{table}_person ON {schema}.{table} (person_id)")
    state = STATE_DDL.format(s=schema).replace("CREATE TABLE", create)
    out.extend(s.strip() for s in state.split(";") if s.strip())
    return out
