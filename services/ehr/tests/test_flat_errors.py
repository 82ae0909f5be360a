"""Bad FLAT and STRUCTURED input: every offending key listed with its reason, template
violations of the converted composition named by the FLAT key that placed the data
(pure: no database; the HTTP 422 and "nothing stored" are in test_flat_api)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_flat_conformance import CONFORMANCE, _by_root

from hygie_ehr.domain.opt import OperationalTemplate
from hygie_ehr.webtemplate import FlatError, flat_to_canonical, structured_to_canonical

FLAT_DIR = CONFORMANCE / "compositions" / "FLAT"
MINIMAL = FLAT_DIR / "minimal_evaluation.en.v1_20211018102718_000001_1.xml.flat.json"


def _template(template_id: str) -> OperationalTemplate:
    return next(o for opts in _by_root().values() for o in opts if o.template_id == template_id)


def _issues(opt: OperationalTemplate, doc: dict[str, Any], *, flat: bool = True) -> dict[str, str]:
    convert = flat_to_canonical if flat else structured_to_canonical
    with pytest.raises(FlatError) as err:
        convert(opt, doc, validated=True)
    return dict(err.value.issues)


def test_every_bad_key_of_a_document_is_listed_with_its_reason() -> None:
    flat = json.loads(MINIMAL.read_text())
    flat["minimal/minimal:0/no_such_node|magnitude"] = 1
    flat["minimal/minimal:0/quantity|colour"] = "red"
    flat["minimal/minimal:2/quantity|magnitude"] = 1.5
    flat["minimal/minimal:2/quantity|unit"] = "kg"
    flat["minimal/minimal:0/quantity|magnitude"] = "heavy"
    flat["ctx/favourite_colour"] = "red"
    flat["minimal/composer|name"] = {"nested": "object"}
    issues = _issues(_template("minimal_evaluation.en.v1"), flat)
    assert "index gap" in issues["minimal/minimal:1"]
    assert "a FLAT value must be" in issues["minimal/composer|name"]
    assert "unknown node" in issues["minimal/minimal:0/no_such_node"]
    assert "unknown suffix" in issues["minimal/minimal:0/quantity|colour"]
    assert "number" in issues["minimal/minimal:0/quantity|magnitude"]
    assert "unknown ctx key" in issues["ctx/favourite_colour"]
    assert len(issues) == 6


def test_a_template_violation_names_the_flat_key_and_suffix() -> None:
    flat = json.loads(MINIMAL.read_text())
    flat["minimal/minimal:0/quantity|unit"] = "lb"
    issues = _issues(_template("minimal_evaluation.en.v1"), flat)
    assert list(issues) == ["minimal/minimal:0/quantity|unit"]
    reason = issues["minimal/minimal:0/quantity|unit"]
    assert "'lb' are not allowed" in reason
    assert "/content[openEHR-EHR-EVALUATION.minimal.v1]/data/items[at0002]/value/units" in reason


def test_a_missing_mandatory_node_is_named_by_the_key_it_would_have() -> None:
    flat = json.loads((FLAT_DIR / "medications_statement.v0__.json").read_text())
    flat = {k: v for k, v in flat.items() if "/timing/" not in k}  # the mandatory cluster
    issues = _issues(_template("medications_statement.v0"), flat)
    assert list(issues) == ["medications/medication_list/medication_statement:0/timing"]
    assert "occurs 0 times" in issues["medications/medication_list/medication_statement:0/timing"]


def test_a_state_the_careflow_step_does_not_allow_is_named_by_its_key() -> None:
    wrong = FLAT_DIR / "test-ism.vitagroup.de.v1__ism_wrong_current_state.json"
    flat = json.loads(wrong.read_text())
    issues = _issues(_template("test-ism.vitagroup.de.v1"), flat)
    key = "test-ism.vitagroup.de.v1/medication_management/ism_transition/current_state|code"
    assert list(issues) == [key]
    assert "'245' is not in the list" in issues[key]


def test_the_current_state_is_filled_from_the_careflow_step() -> None:
    """EHRbase's default: a careflow step alone gets the state the template gives it."""
    flat = json.loads((FLAT_DIR / "test-ism.vitagroup.de.v1__.json").read_text())
    for key in [k for k in flat if "/current_state" in k]:
        del flat[key]
    data = flat_to_canonical(_template("test-ism.vitagroup.de.v1"), flat, validated=True)
    state = data["content"][0]["ism_transition"]["current_state"]
    assert state["defining_code"]["code_string"] == "528"
    assert state["value"] == "cancelled"
    assert state["defining_code"]["terminology_id"]["value"] == "openehr"


def test_a_structured_document_is_named_by_flat_keys_too() -> None:
    doc = {
        "ctx": {"language": "en", "territory": "FR", "composer_name": "Dr. Who"},
        "minimal": {
            "minimal": [
                {"quantity": [{"|magnitude": 70.5, "|unit": "lb"}]},
                {"quantity": [{"|magnitude": 1, "|colour": "red"}]},
            ]
        },
    }
    issues = _issues(_template("minimal_evaluation.en.v1"), doc, flat=False)
    assert list(issues) == ["minimal/minimal:1/quantity|colour"]
    assert "unknown suffix" in issues["minimal/minimal:1/quantity|colour"]
    del doc["minimal"]["minimal"][1]
    issues = _issues(_template("minimal_evaluation.en.v1"), doc, flat=False)
    assert list(issues) == ["minimal/minimal:0/quantity|unit"]
