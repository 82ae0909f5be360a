"""Bad FLAT and STRUCTURED input: every offending key listed with its reason, template
violations of the converted composition named by the FLAT key that placed the data
(pure: no database; the HTTP 422 and "nothing stored" are in test_flat_api)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from test_flat_conformance import CONFORMANCE, _by_root

from hygie_ehr.domain.opt import OperationalTemplate
from hygie_ehr.webtemplate import (
    FlatError,
    flat_to_canonical,
    structured_to_canonical,
    web_template,
)
from hygie_ehr.webtemplate.example import example_flat

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


def test_the_ctx_defaults_ehrbase_knows_are_filled() -> None:
    """``ctx/action_time``, ``ctx/action_ism_transition_current_state`` (code or rubric),
    ``ctx/provider_*`` fill every ACTION that does not say them; the body's own values win."""
    action_doc = FLAT_DIR / "minimal_action.en.v1_20211018102623_000001_1.xml.flat.json"
    flat = {
        k: v
        for k, v in json.loads(action_doc.read_text()).items()
        if "/ism_transition/" not in k and not k.endswith(":0/time")
    }
    flat |= {
        "ctx/action_time": "2022-02-03T04:05:06Z",
        "ctx/action_ism_transition_current_state": "completed",
        "ctx/provider_name": "Dr. Who",
        "ctx/provider_id": "42",
        "ctx/id_namespace": "HOSPITAL-NS",
        "ctx/id_scheme": "HOSPITAL-NS",
    }
    opt = _template("minimal_action.en.v1")
    action = flat_to_canonical(opt, flat, validated=True)["content"][0]
    assert action["time"]["value"] == "2022-02-03T04:05:06Z"
    assert action["ism_transition"]["current_state"]["defining_code"]["code_string"] == "532"
    assert action["provider"]["name"] == "Dr. Who"
    assert action["provider"]["external_ref"]["id"]["value"] == "42"
    flat["minimal/minimal:0/time"] = "2021-10-18T22:26:23.544-03:00"
    action = flat_to_canonical(opt, flat, validated=True)["content"][0]
    assert action["time"]["value"] == "2021-10-18T22:26:23.544-03:00"
    flat["ctx/action_ism_transition_current_state"] = "dormant"
    issues = _issues(opt, flat)
    assert "not an ISM state" in issues["ctx/action_ism_transition_current_state"]


def test_history_origin_and_instruction_defaults_come_from_ctx() -> None:
    observation = json.loads(
        (FLAT_DIR / "minimal_observation.en.v1_20211018102756_000001_1.xml.flat.json").read_text()
    )
    observation["ctx/history_origin"] = "2020-01-01T00:00:00Z"
    data = flat_to_canonical(_template("minimal_observation.en.v1"), observation, validated=True)
    assert data["content"][0]["data"]["origin"]["value"] == "2020-01-01T00:00:00Z"
    opt = _template("minimal_instruction.en.v1")
    flat = example_flat(web_template(opt), now=datetime(2026, 11, 28, tzinfo=UTC))
    flat = {k: v for k, v in flat.items() if not k.endswith("/narrative")}
    flat["ctx/instruction_narrative"] = "Take one a day"
    data = flat_to_canonical(opt, flat, validated=True)
    assert data["content"][0]["narrative"]["value"] == "Take one a day"
