"""Pure mapping: compositions → OMOP rows by the shipped YAML mappings."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest

from hygie_omop_projection.domain.mapper import ROLES, Concept, codes_of, map_composition
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


def _observation(archetype: str, history: str, event: str, tree: str, item: str, value: dict):
    return {
        "_type": "OBSERVATION", "archetype_node_id": archetype,
        "data": {"_type": "HISTORY", "archetype_node_id": history, "events": [{
            "_type": "POINT_EVENT", "archetype_node_id": event,
            "time": _dt("2024-03-01T10:30:00Z"),
            "data": {"_type": "ITEM_TREE", "archetype_node_id": tree,
                     "items": [element(item, value)]},
        }]},
    }  # fmt: skip


def _medication_statement(start: str | None) -> dict:
    items = [element("at0006", coded("SNOMED-CT", "387517004", "Paracetamol"))]
    if start:
        items.append(element("at0019", _dt(start)))
    items.append(element("at0021", _dt("2024-04-01T00:00:00Z")))
    return {
        "_type": "OBSERVATION",
        "archetype_node_id": "openEHR-EHR-OBSERVATION.medication_statement.v0",
        "data": {"_type": "HISTORY", "archetype_node_id": "at0001", "events": [{
            "_type": "POINT_EVENT", "archetype_node_id": "at0002",
            "time": _dt("2024-03-05T09:00:00Z"),
            "data": {"_type": "ITEM_TREE", "archetype_node_id": "at0003", "items": items},
        }]},
    }  # fmt: skip


def _order() -> dict:
    return {
        "_type": "INSTRUCTION", "archetype_node_id": "openEHR-EHR-INSTRUCTION.medication_order.v3",
        "activities": [{
            "_type": "ACTIVITY", "archetype_node_id": "at0001",
            "description": {"_type": "ITEM_TREE", "archetype_node_id": "at0002", "items": [
                element("at0070", coded("ATC", "A10BA02", "metformin"))]},
        }],
    }  # fmt: skip


def _procedure() -> dict:
    return {
        "_type": "ACTION", "archetype_node_id": "openEHR-EHR-ACTION.procedure.v1",
        "time": _dt("2024-03-01T11:00:00Z"),
        "description": {"_type": "ITEM_TREE", "archetype_node_id": "at0001", "items": [
            element("at0002", coded("SNOMED-CT", "80146002", "appendectomy"))]},
    }  # fmt: skip


def _death(when: str) -> dict:
    return {
        "_type": "EVALUATION", "archetype_node_id": "openEHR-EHR-EVALUATION.death_summary.v1",
        "data": {"_type": "ITEM_TREE", "archetype_node_id": "at0001",
                 "items": [element("at0092", _dt(when))]},
    }  # fmt: skip


#: archetype -> (a composition entry built from the CKM archetype, table, concept, unit)
ISSUE_ARCHETYPES = {
    "openEHR-EHR-OBSERVATION.blood_pressure.v2": (
        blood_pressure(120, 80), "measurement", 3004249, 8876),
    "openEHR-EHR-OBSERVATION.pulse.v2": (
        _observation("openEHR-EHR-OBSERVATION.pulse.v2", "at0002", "at0003", "at0001", "at0004",
                     quantity(72, "/min")), "measurement", 3027018, 8541),
    "openEHR-EHR-OBSERVATION.body_temperature.v2": (
        _observation("openEHR-EHR-OBSERVATION.body_temperature.v2", "at0002", "at0003", "at0001",
                     "at0004", quantity(37.2, "Cel")), "measurement", 3020891, 586323),
    "openEHR-EHR-OBSERVATION.body_weight.v2": (
        _observation("openEHR-EHR-OBSERVATION.body_weight.v2", "at0002", "at0003", "at0001",
                     "at0004", quantity(70.5, "kg")), "measurement", 3025315, 9529),
    "openEHR-EHR-OBSERVATION.height.v2": (
        _observation("openEHR-EHR-OBSERVATION.height.v2", "at0001", "at0002", "at0003", "at0004",
                     quantity(172, "cm")), "measurement", 3036277, 8582),
    "openEHR-EHR-OBSERVATION.pulse_oximetry.v1": (
        _observation("openEHR-EHR-OBSERVATION.pulse_oximetry.v1", "at0001", "at0002", "at0003",
                     "at0006", {"_type": "DV_PROPORTION", "numerator": 97, "denominator": 100,
                                "type": 2}), "measurement", 40762499, 8554),
    "openEHR-EHR-OBSERVATION.respiration.v2": (
        _observation("openEHR-EHR-OBSERVATION.respiration.v2", "at0001", "at0002", "at0003",
                     "at0004", quantity(16, "/min")), "measurement", 3024171, 8541),
    "openEHR-EHR-OBSERVATION.body_mass_index.v2": (
        _observation("openEHR-EHR-OBSERVATION.body_mass_index.v2", "at0001", "at0002", "at0003",
                     "at0004", quantity(23.8, "kg/m2")), "measurement", 3038553, 9531),
    "openEHR-EHR-OBSERVATION.laboratory_test_result.v1": (
        lab_result([("2345-7", quantity(95, "mg/dL"))]), "measurement", 3004501, 8840),
    "openEHR-EHR-EVALUATION.problem_diagnosis.v1": (
        problem("ICD10", "E11.9"), "condition_occurrence", 201826, None),
    "openEHR-EHR-INSTRUCTION.medication_order.v3": (_order(), "drug_exposure", 1503297, None),
    "openEHR-EHR-OBSERVATION.medication_statement.v0": (
        _medication_statement("2024-02-01T00:00:00Z"), "drug_exposure", 1125315, None),
    "openEHR-EHR-ACTION.procedure.v1": (_procedure(), "procedure_occurrence", 4198190, None),
    "openEHR-EHR-COMPOSITION.encounter.v1": (None, "visit_occurrence", 9202, None),
    "openEHR-EHR-EVALUATION.death_summary.v1": (
        _death("2024-03-09T04:00:00Z"), "death", 0, None),
}  # fmt: skip
ISSUE_LOOKUP = {
    **TABLE,
    ("ATC", "A10BA02"): Concept(1503297, 21600745),
    ("SNOMED", "80146002"): Concept(4198190, 4198190),
    ("ICD10", "E11.9"): Concept(201826, 45576876),
    ("SNOMED", "387517004"): Concept(1125315, 1125315),
}


def test_every_archetype_of_the_issue_has_a_shipped_mapping():
    assert set(ISSUE_ARCHETYPES) <= set(MAPPINGS)


@pytest.mark.parametrize("archetype", list(ISSUE_ARCHETYPES))
def test_each_archetype_of_the_issue_is_mapped(archetype):
    entry, table, concept, unit = ISSUE_ARCHETYPES[archetype]
    body = composition(entry) if entry else composition()  # the encounter is the composition
    mapped = rows_of(body, lookup=ISSUE_LOOKUP.get)
    rows = [r for r in mapped.rows if r.table == table]
    assert rows, (archetype, mapped.problems)
    role = ROLES[table]
    assert rows[0].columns[role.concept] == concept
    if unit is not None:
        assert rows[0].columns["unit_concept_id"] == unit
        assert rows[0].columns["value_as_number"] is not None
    assert not mapped.problems
    visit = [r for r in mapped.rows if r.table == "visit_occurrence"]
    assert len(visit) == 1  # every composition of the encounter template gives its visit


def test_medication_statement_dates_by_its_start_else_by_the_statement_time():
    started = rows_of(composition(_medication_statement("2024-02-01T00:00:00Z")),
                      lookup=ISSUE_LOOKUP.get)  # fmt: skip
    (drug,) = [r.columns for r in started.rows if r.table == "drug_exposure"]
    assert drug["drug_exposure_start_date"] == date(2024, 2, 1)
    assert drug["drug_exposure_end_date"] == date(2024, 4, 1)
    assert drug["drug_type_concept_id"] == 32865
    assert drug["drug_source_value"] == "SNOMED-CT|387517004"
    undated = rows_of(composition(_medication_statement(None)), lookup=ISSUE_LOOKUP.get)
    (drug,) = [r.columns for r in undated.rows if r.table == "drug_exposure"]
    assert drug["drug_exposure_start_date"] == date(2024, 3, 5)


def test_death_summary_gives_the_death_date_without_a_cause():
    mapped = rows_of(composition(_death("2024-03-09T04:00:00Z")))
    (death,) = [r.columns for r in mapped.rows if r.table == "death"]
    assert death["death_date"] == date(2024, 3, 9)
    assert death["cause_concept_id"] == 0
    assert death["death_type_concept_id"] == 32817
    assert "visit_occurrence_id" not in death


def test_a_mapping_of_a_cluster_archetype_finds_the_clusters_inside_entries():
    from hygie_omop_projection.domain.mappings import Mapping, Rule

    analyte = Mapping(
        archetype_id="openEHR-EHR-CLUSTER.laboratory_test_analyte.v1",
        rules=(Rule(table="measurement", concept="items[at0024]", value="items[at0001]"),),
    )
    body = composition(lab_result([("2345-7", quantity(95, "mg/dL"))]))
    mapped = map_composition(body, {analyte.archetype_id: analyte}, TABLE.get, key="c1")
    (row,) = mapped.rows
    assert row.columns["measurement_concept_id"] == 3004501
    assert row.columns["measurement_date"] == date(2024, 3, 1)  # the composition's start
