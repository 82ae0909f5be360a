"""The projection's CDM tables match the OMOP CDM 5.4 specification (field-level CSV)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from hygie_omop_projection.adapters.cdm import CDM_TABLES, generation_ddl

SPEC = Path(__file__).resolve().parents[4] / "shared" / "conformance" / "omop" / "cdm54"
FIELDS = SPEC / "OMOP_CDMv5.4_Field_Level.csv"

pytestmark = pytest.mark.skipif(not FIELDS.exists(), reason="../shared/conformance absent")


def _spec() -> dict[str, list[tuple[str, str, bool]]]:
    out: dict[str, list[tuple[str, str, bool]]] = {}
    with FIELDS.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out.setdefault(row["cdmTableName"].lower(), []).append(
                (row["cdmFieldName"].lower(), row["cdmDatatype"], row["isRequired"] == "Yes")
            )
    return out


@pytest.mark.parametrize("table", sorted(CDM_TABLES))
def test_columns_types_and_required_flags_follow_the_specification(table):
    spec = _spec()[table]
    ours = [(name, kind.lower(), required) for name, kind, required in CDM_TABLES[table]]
    expected = [
        (name, {"datetime": "timestamp", "float": "numeric", "varchar(max)": "text"}.get(
            kind.lower(), kind.lower()), required)
        for name, kind, required in spec
    ]  # fmt: skip
    assert ours == expected


def test_generation_ddl_refuses_a_bad_schema_name():
    with pytest.raises(ValueError, match="invalid schema"):
        generation_ddl("omop; drop table x")
