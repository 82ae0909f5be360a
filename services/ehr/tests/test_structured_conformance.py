"""STRUCTURED compositions of the EHRbase suite → canonical → validated, and STRUCTURED is
the nested form of the same FLAT paths (pure)."""

from __future__ import annotations

import json

from test_flat_conformance import CONFORMANCE, _by_root, _sorted

from hygie_ehr.domain.validation import validate
from hygie_ehr.webtemplate import (
    FlatError,
    canonical_to_flat,
    canonical_to_structured,
    flat_to_canonical,
    structured_to_canonical,
)


def test_structured_compositions_convert_and_validate() -> None:
    ok, refused = [], []
    for path in sorted(
        [
            *CONFORMANCE.glob("compositions/STRUCTURED/*.json"),
            *CONFORMANCE.glob("flat_compositions/*structured_input*.json"),
        ]
    ):
        try:
            doc = json.loads(path.read_text())
        except ValueError:
            continue  # the suite's deliberately malformed documents
        root = next(k for k in doc if k.split("/")[0] != "ctx")
        for opt in _by_root().get(root, []):
            try:
                data = structured_to_canonical(opt, doc)
            except FlatError:
                continue
            if not validate(data, opt):
                ok.append(path.name)
                assert _sorted(
                    structured_to_canonical(opt, canonical_to_structured(opt, data))
                ) == (_sorted(data))
                break
        else:
            refused.append(path.name)
    print(f"STRUCTURED: {len(ok)}/{len(ok) + len(refused)} convert and validate; refused {refused}")
    assert len(ok) >= 7
    assert not refused


def test_structured_and_flat_say_the_same() -> None:
    flat_path = CONFORMANCE / "compositions" / "FLAT" / "nested.en.v1__full.json"
    structured_path = CONFORMANCE / "compositions" / "STRUCTURED" / "nested.en.v1__full.json"
    opt = _by_root()["nesting"][0]
    from_flat = flat_to_canonical(opt, json.loads(flat_path.read_text()))
    from_structured = structured_to_canonical(opt, json.loads(structured_path.read_text()))
    for data in (from_flat, from_structured):
        assert not validate(data, opt)
    # the suite's two files differ in generated ids and times only; compare their shape
    flat_keys = set(canonical_to_flat(opt, from_flat))
    structured_keys = set(canonical_to_flat(opt, from_structured)) - {"nesting/_uid"}
    assert flat_keys == structured_keys


def test_a_structured_leaf_with_only_a_value_is_that_value() -> None:
    opt = _by_root()["nesting"][0]
    flat = json.loads(
        (CONFORMANCE / "compositions" / "FLAT" / "nested.en.v1__full.json").read_text()
    )
    structured = canonical_to_structured(opt, flat_to_canonical(opt, flat))
    nested = structured["nesting"]["nested"][0]["nested"][0]
    assert nested["narrative"] == ["narrative"]
    assert nested["language"] == [{"|code": "en", "|terminology": "ISO_639-1"}]


def test_structured_ctx_values_may_carry_suffixes() -> None:
    """``"ctx": {"health_care_facility": {"|name": ..., "|id": ...}}`` is the STRUCTURED
    spelling of ``ctx/health_care_facility|name`` and ``|id``."""
    opt = _by_root()["test-ism.vitagroup.de.v1"][0]
    flat = json.loads(
        (CONFORMANCE / "compositions" / "FLAT" / "test-ism.vitagroup.de.v1__.json").read_text()
    )
    flat = {k: v for k, v in flat.items() if "_health_care_facility" not in k}
    doc = canonical_to_structured(opt, flat_to_canonical(opt, flat))
    doc["ctx"] = {"health_care_facility": {"|name": "Hospital", "|id": "9091"}}
    facility = structured_to_canonical(opt, doc)["context"]["health_care_facility"]
    assert facility["name"] == "Hospital"
    assert facility["external_ref"]["id"]["value"] == "9091"
    assert facility["external_ref"]["type"] == "ORGANISATION"
