"""Pure mapping: compositions → OMOP rows by the shipped YAML mappings."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest

from hygie_omop_projection.domain.mapper import Concept, codes_of, map_composition
from hygie_omop_projection.domain.mappings import load_mappings
from hygie_omop_projection.testing import (
    blood_pressure,
    coded,
    composition,
    element,
    lab_result,
    problem,
    quantity,
)

MAPPINGS = load_mappings()
TABLE = {("LOINC", "2345-7"): Concept(3004501, 3004501), ("UCUM", "mg/dL"): Concept(8840, 8840)}


def rows_of(body, lookup=TABLE.get):
    return map_composition(body, MAPPINGS, lookup, key="c1")


def test_every_shipped_mapping_loads():
    assert len(MAPPINGS) >= 13
    assert "openEHR-EHR-OBSERVATION.blood_pressure.v2" in MAPPINGS


def test_blood_pressure_gives_systolic_and_diastolic_measurements_linked_to_the_encounter():
    mapped = rows_of(composition(blood_pressure(120, 80)))
    by_concept = {r.columns.get("measurement_concept_id"): r for r in mapped.rows}
    systolic = by_concept[3004249]
    assert systolic.columns["value_as_number"] == 120
    assert systolic.columns["unit_concept_id"] == 8876
    assert systolic.columns["measurement_date"] == date(2024, 3, 1)
    assert systolic.columns["measurement_type_concept_id"] == 32817
    assert systolic.path.endswith("/items[at0004]")
    assert by_concept[3012888].columns["value_as_number"] == 80
    visit = next(r for r in mapped.rows if r.table == "visit_occurrence")
    assert visit.columns["visit_concept_id"] == 9202
    assert visit.columns["visit_end_date"] == date(2024, 3, 1)
    assert not mapped.problems


def test_natural_keys_are_stable_across_replays():
    body = composition(blood_pressure(120, 80))
    assert [r.key for r in rows_of(body).rows] == [r.key for r in rows_of(body).rows]


def test_lab_analyte_is_translated_and_an_unknown_code_is_kept_with_concept_zero():
    body = composition(
        lab_result([("2345-7", quantity(95, "mg/dL")), ("99999-9", quantity(1, "g"))])
    )
    assert ("LOINC", "2345-7") in codes_of(body, MAPPINGS)
    mapped = rows_of(body)
    labs = [r for r in mapped.rows if r.table == "measurement"]
    assert {r.columns["measurement_concept_id"] for r in labs} == {3004501, 0}
    glucose = next(r for r in labs if r.columns["measurement_concept_id"] == 3004501)
    assert glucose.columns["unit_concept_id"] == 8840
    assert glucose.columns["measurement_source_value"] == "LOINC|2345-7"
    unknown = next(r for r in labs if r.columns["measurement_concept_id"] == 0)
    assert unknown.columns["measurement_source_value"] == "LOINC|99999-9"
    assert [(p.kind, p.code) for p in mapped.problems] == [("unmapped-code", "99999-9")]


def test_diagnosis_becomes_a_condition_from_its_onset_date():
    mapped = rows_of(
        composition(problem("ICD10", "E11.9")),
        lookup={("ICD10", "E11.9"): Concept(201826, 45576876)}.get,
    )
    condition = next(r for r in mapped.rows if r.table == "condition_occurrence")
    assert condition.columns["condition_concept_id"] == 201826
    assert condition.columns["condition_source_concept_id"] == 45576876
    assert condition.columns["condition_start_date"] == date(2024, 2, 20)
    assert condition.columns["condition_status_concept_id"] == 32902


def test_an_absent_element_makes_no_row_and_no_problem():
    body = composition(blood_pressure(120, 80))
    body["content"][0]["data"]["events"][0]["data"]["items"].pop()  # no diastolic
    concepts = {r.columns.get("measurement_concept_id") for r in rows_of(body).rows}
    assert 3012888 not in concepts
    assert 3004249 in concepts


def test_an_entry_without_any_date_is_reported_not_dropped_silently():
    body = composition(blood_pressure(120, 80))
    del body["context"]
    del body["content"][0]["data"]["events"][0]["time"]
    mapped = rows_of(body)
    assert not [r for r in mapped.rows if r.table == "measurement"]
    assert {p.kind for p in mapped.problems} == {"no-date"}


VOCAB = (
    Path(__file__).resolve().parents[4] / "shared" / "conformance" / "omop" / "vocab-synthea27nj"
)
OPENEHR = (
    Path(__file__).resolve().parents[4] / "shared" / "conformance" / "openehr"
    / "ehrbase-integration-tests"
)  # fmt: skip


@pytest.mark.skipif(not VOCAB.exists(), reason="../shared/conformance absent")
def test_constant_concepts_and_units_of_the_mappings_agree_with_the_vocabulary():
    with (VOCAB / "CONCEPT.csv").open(newline="", encoding="utf-8") as f:
        by_code = {(r["vocabulary_id"], r["concept_code"]): r for r in csv.DictReader(f)}
    checked = 0
    for mapping in MAPPINGS.values():
        for rule in mapping.rules:
            for unit, concept_id in rule.units.items():
                if ("UCUM", unit) in by_code:
                    assert int(by_code[("UCUM", unit)]["concept_id"]) == concept_id, unit
                    checked += 1
            if rule.concept_id and rule.source_value and rule.source_value.startswith("LOINC|"):
                row = by_code[("LOINC", rule.source_value.split("|", 1)[1])]
                assert int(row["concept_id"]) == rule.concept_id, mapping.archetype_id
                assert row["standard_concept"] == "S"
                checked += 1
    assert checked >= 15


@pytest.mark.skipif(not OPENEHR.exists(), reason="../shared/conformance absent")
@pytest.mark.parametrize(
    ("name", "concepts"),
    [
        ("compositions/CANONICAL_JSON/Corona_Anamnese.json", {3020891}),
        ("aql/data_load/compositions/aql-conformance-ehrbase.org.v0_contains.json",
         {3004249, 3012888}),
    ],
)  # fmt: skip
def test_published_canonical_compositions_are_mapped(name, concepts):
    body = json.loads((OPENEHR / name).read_text(encoding="utf-8"))
    mapped = rows_of(body)
    measurements = [r for r in mapped.rows if r.table == "measurement"]
    assert {r.columns["measurement_concept_id"] for r in measurements} == concepts
    assert all(r.columns["unit_concept_id"] for r in measurements)
    assert all("/events[" in r.path for r in measurements)


@pytest.mark.skipif(not OPENEHR.exists(), reason="../shared/conformance absent")
def test_a_free_text_analyte_in_a_panel_is_found_and_reported_uncoded():
    name = "aql/data_load/compositions/external/virology_finding_with_specimen_no_update.json"
    body = json.loads((OPENEHR / name).read_text(encoding="utf-8"))
    analyte = body["content"][0]["data"]["events"][0]["data"]["items"]
    panel = next(i for i in analyte if "panel" in i["archetype_node_id"])
    panel["items"][0]["items"].append(element("at0001", quantity(12.5, "mg/dL")))
    mapped = rows_of(body)
    (row,) = [r for r in mapped.rows if r.table == "measurement"]
    assert row.columns["measurement_concept_id"] == 0
    assert row.columns["measurement_source_value"] == "Virus"
    assert row.columns["value_as_number"] == 12.5
    assert "laboratory_test_panel.v0]/items[openEHR-EHR-CLUSTER.laboratory_test_analyte" in row.path
    assert [p.kind for p in mapped.problems] == ["uncoded"]


def _dt(value: str) -> dict:
    return {"_type": "DV_DATE_TIME", "value": value}


def test_medication_order_procedure_and_emergency_encounter():
    order = {
        "_type": "INSTRUCTION",
        "archetype_node_id": "openEHR-EHR-INSTRUCTION.medication_order.v3",
        "activities": [{
            "_type": "ACTIVITY", "archetype_node_id": "at0001",
            "description": {"_type": "ITEM_TREE", "archetype_node_id": "at0002", "items": [
                element("at0070", coded("ATC", "A10BA02", "metformin")),
                {"_type": "CLUSTER", "archetype_node_id": "at0113", "items": [
                    element("at0012", _dt("2024-03-01T08:00:00Z")),
                    element("at0013", _dt("2024-03-31T08:00:00Z")),
                ]},
            ]},
        }],
    }  # fmt: skip
    procedure = {
        "_type": "ACTION",
        "archetype_node_id": "openEHR-EHR-ACTION.procedure.v1",
        "time": _dt("2024-03-01T11:00:00Z"),
        "description": {"_type": "ITEM_TREE", "archetype_node_id": "at0001", "items": [
            element("at0002", coded("SNOMED-CT", "80146002", "appendectomy")),
        ]},
    }  # fmt: skip
    lookup = {("ATC", "A10BA02"): Concept(1503297, 21600745),
              ("SNOMED", "80146002"): Concept(4198190, 4198190)}.get  # fmt: skip
    mapped = rows_of(composition(order, procedure, setting="227"), lookup=lookup)
    by_table = {r.table: r for r in mapped.rows}
    drug = by_table["drug_exposure"].columns
    assert (drug["drug_concept_id"], drug["drug_source_concept_id"]) == (1503297, 21600745)
    assert drug["drug_exposure_start_date"] == date(2024, 3, 1)
    assert drug["drug_exposure_end_date"] == date(2024, 3, 31)
    assert drug["drug_type_concept_id"] == 32838
    proc = by_table["procedure_occurrence"].columns
    assert proc["procedure_concept_id"] == 4198190
    assert proc["procedure_source_value"] == "SNOMED-CT|80146002"
    assert by_table["visit_occurrence"].columns["visit_concept_id"] == 9203  # emergency care
    assert not mapped.problems
