"""Pure rules of the terminology service (no database)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hygie_terminology.domain.athena import detect_dialect
from hygie_terminology.domain.fhir_resources import parse_resource, resources_of
from hygie_terminology.domain.languages import language_code
from hygie_terminology.domain.licence import unconfirmed
from hygie_terminology.domain.systems import OMOP_SYSTEM, system_of, vocabulary_of
from hygie_terminology.domain.valueset import (
    Filter,
    InvalidValueSet,
    implicit_value_set,
    parse_compose,
)


@given(st.from_regex(r"[A-Za-z][A-Za-z0-9 _-]{0,19}", fullmatch=True))
def test_every_vocabulary_round_trips_through_its_system_uri(vocabulary_id):
    assert vocabulary_of(system_of(vocabulary_id)) == vocabulary_id


def test_well_known_systems():
    assert system_of("LOINC") == "http://loinc.org"
    assert vocabulary_of("http://snomed.info/sct") == "SNOMED"
    assert vocabulary_of(OMOP_SYSTEM) is None
    assert vocabulary_of("http://example.org/unknown") is None


def test_dialects():
    assert detect_dialect("concept_id\tconcept_name") == "tab"
    assert detect_dialect("concept_id,concept_name") == "comma"


def test_licence_gate_names_only_unconfirmed_licensed_vocabularies():
    assert set(unconfirmed(["SNOMED", "LOINC", "CPT4"], ["snomed"])) == {"CPT4"}
    assert unconfirmed(["LOINC", "UCUM"], []) == {}


def test_language_names():
    assert language_code("French language") == "fr"
    assert language_code("English language") == "en"
    assert language_code("Klingon language") is None


def test_implicit_value_sets():
    every = implicit_value_set("http://loinc.org?fhir_vs")
    assert every is not None
    assert every.includes[0].system == "http://loinc.org"
    isa = implicit_value_set("http://snomed.info/sct?fhir_vs=isa/22253000")
    assert isa is not None
    assert isa.includes[0].filters == (Filter("concept", "is-a", "22253000"),)
    assert implicit_value_set("http://loinc.org") is None
    with pytest.raises(InvalidValueSet):
        implicit_value_set("http://loinc.org?fhir_vs=refset/1")


@pytest.mark.parametrize(
    ("compose", "message"),
    [
        ({}, "at least one include"),
        ({"include": [{"concept": [{"code": "1"}]}]}, "a system or a valueSet"),
        (
            {
                "include": [
                    {
                        "system": "s",
                        "filter": [{"property": "p", "op": "generalizes", "value": "v"}],
                    }
                ]
            },
            "not supported",
        ),
    ],
)
def test_compose_errors_name_the_element(compose, message):
    with pytest.raises(InvalidValueSet, match=message):
        parse_compose({"compose": compose})


def test_code_system_concepts_are_flattened_with_their_parents():
    parsed, problems = parse_resource(
        {
            "resourceType": "CodeSystem",
            "url": "urn:x",
            "concept": [{"code": "A", "concept": [{"code": "B", "concept": [{"code": "C"}]}]}],
        },
        "test",
    )
    assert problems == []
    assert parsed is not None
    assert [(c["code"], c["parents"]) for c in parsed.concepts] == [
        ("A", []),
        ("B", ["A"]),
        ("C", ["B"]),
    ]
    assert parsed.resource["id"].startswith("codesystem-")


def test_concept_map_r5_relationships_become_r4_equivalences():
    parsed, _ = parse_resource(
        {
            "resourceType": "ConceptMap",
            "url": "urn:m",
            "group": [
                {
                    "source": "urn:s",
                    "target": "urn:t",
                    "element": [
                        {
                            "code": "1",
                            "target": [
                                {"code": "2", "relationship": "source-is-narrower-than-target"}
                            ],
                        }
                    ],
                }
            ],
        },
        "test",
    )
    assert parsed is not None
    assert parsed.map_rows[0]["equivalence"] == "wider"
    assert parsed.systems_used == {"urn:s", "urn:t"}


def test_resources_without_url_or_of_another_type_are_refused():
    assert parse_resource({"resourceType": "CodeSystem"}, "f")[1] == [
        "f: CodeSystem.url is required"
    ]
    assert "is not one of" in parse_resource({"resourceType": "Patient"}, "f")[1][0]


def test_bundles_yield_their_resources():
    bundle = {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "ValueSet"}}]}
    assert list(resources_of(bundle)) == [{"resourceType": "ValueSet"}]


def test_vocabulary_ids_with_spaces_give_valid_uris():
    assert system_of("RxNorm Extension").endswith("/RxNorm%20Extension")
