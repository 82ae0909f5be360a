"""FLAT compositions of the EHRbase suite → canonical → validated → FLAT → canonical
(pure: no database). Pass rates are printed for the README; floors guard regressions."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
from ehr_support import CONFORMANCE

from hygie_ehr.domain.opt import OperationalTemplate, parse_opt
from hygie_ehr.domain.validation import validate
from hygie_ehr.webtemplate import (
    FlatError,
    canonical_to_flat,
    canonical_to_structured,
    flat_to_canonical,
    structured_to_canonical,
    web_template,
)
from hygie_ehr.webtemplate.residual import same

FLAT_FILES = sorted(
    [
        *CONFORMANCE.glob("compositions/FLAT/*.json"),
        *CONFORMANCE.glob("flat_compositions/*flat_input*.json"),
    ]
)


@cache
def _by_root() -> dict[str, list[OperationalTemplate]]:
    seen: dict[str, OperationalTemplate] = {}
    for path in sorted(CONFORMANCE.glob("**/*.opt")):
        if "invalid_templates" in path.parts:
            continue
        opt = parse_opt(path.read_bytes())
        seen.setdefault(opt.template_id, opt)
    out: dict[str, list[OperationalTemplate]] = {}
    for opt in seen.values():
        out.setdefault(web_template(opt).tree.id, []).append(opt)
    return out


def _convert(flat: dict[str, Any]) -> tuple[OperationalTemplate, dict[str, Any]] | None:
    roots = {k.split("/")[0].split(":")[0] for k in flat if not k.startswith("ctx/")}
    for root in sorted(roots):
        for opt in _by_root().get(root, []):
            try:
                data = flat_to_canonical(opt, flat)
            except FlatError:
                continue
            if not validate(data, opt):
                return opt, data
    return None


def _normal(value: Any) -> Any:
    """Canonical JSON compared without ``_type`` spelling of non-polymorphic parts."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items() if k != "_type" or v.startswith("DV_")}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def test_flat_compositions_convert_validate_and_round_trip() -> None:
    converted, refused, lossy = [], [], []
    for path in FLAT_FILES:
        try:
            flat = json.loads(path.read_text())
        except ValueError:
            continue
        if not isinstance(flat, dict) or any(isinstance(v, dict | list) for v in flat.values()):
            continue
        done = _convert(flat)
        if done is None:
            refused.append(path.name)
            continue
        opt, data = done
        again = flat_to_canonical(opt, canonical_to_flat(opt, data))
        if _normal(again) == _normal(data):
            converted.append(path.name)
        else:
            lossy.append(path.name)
    total = len(converted) + len(refused) + len(lossy)
    print(f"FLAT: {len(converted)}/{total} convert, validate and round-trip; lossy: {lossy}")
    print(f"refused: {refused}")
    assert len(converted) >= 76
    assert not lossy
    assert "minimal_evaluation.en.v1_20211018102718_000001_1.xml.flat.json" in converted


def _sorted(value: Any) -> Any:
    """Canonical JSON with lists in a fixed order (FLAT lays siblings out in template
    order); compare with :func:`same`, which ignores a ``_type`` only one side spells."""
    if isinstance(value, dict):
        return {k: _sorted(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_sorted(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(_untyped(v), sort_keys=True))
    return value


def _untyped(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _untyped(v) for k, v in value.items() if k != "_type"}
    if isinstance(value, list):
        return [_untyped(v) for v in value]
    return value


def test_every_valid_canonical_composition_survives_flat_and_structured() -> None:
    templates = {opt.template_id: opt for opts in _by_root().values() for opt in opts}
    kept, lost = [], []
    for path in sorted(
        [
            *CONFORMANCE.glob("compositions/CANONICAL_JSON/*.json"),
            *CONFORMANCE.glob("compositions/valid/*.json"),
        ]
    ):
        try:
            data = json.loads(path.read_text())
        except ValueError:
            continue
        template_id = ((data.get("archetype_details") or {}).get("template_id") or {}).get("value")
        opt = templates.get(template_id)
        if opt is None or validate(data, opt):
            continue
        via_flat = flat_to_canonical(opt, canonical_to_flat(opt, data))
        via_structured = structured_to_canonical(opt, canonical_to_structured(opt, data))
        ok = same(_sorted(via_flat), _sorted(data)) and same(_sorted(via_structured), _sorted(data))
        (kept if ok else lost).append(path.name)
    total = len(kept) + len(lost)
    print(f"canonical → FLAT/STRUCTURED → canonical: {len(kept)}/{total}, lost: {lost}")
    assert len(kept) >= 47
    assert not lost


def test_canonical_round_trips_through_flat_and_structured() -> None:
    opt = parse_opt(
        (CONFORMANCE / "valid_templates" / "minimal" / "minimal_evaluation.opt").read_bytes()
    )
    data = json.loads(
        (
            CONFORMANCE / "compositions" / "CANONICAL_JSON" / "minimal_evaluation.en.v1__.json"
        ).read_text()
    )
    flat = canonical_to_flat(opt, data)
    assert not validate(flat_to_canonical(opt, flat), opt)
    assert _normal(flat_to_canonical(opt, flat)) == _normal(
        flat_to_canonical(opt, canonical_to_flat(opt, flat_to_canonical(opt, flat)))
    )
    structured = canonical_to_structured(opt, data)
    assert _normal(structured_to_canonical(opt, structured)) == _normal(
        flat_to_canonical(opt, flat)
    )


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("minimal/minimal:0/no_such_node|magnitude", 1, "unknown node"),
        ("minimal/minimal:0/quantity|colour", "red", "unknown suffix"),
        ("minimal/minimal:2/quantity|magnitude", 1, "index gap"),
        ("ctx/favourite_colour", "red", "unknown ctx key"),
        ("minimal/minimal:0/quantity|magnitude", "heavy", "must be a number"),
    ],
)
def test_bad_flat_keys_are_refused_naming_the_key(key: str, value: Any, reason: str) -> None:
    opt = parse_opt(
        (CONFORMANCE / "valid_templates" / "minimal" / "minimal_evaluation.opt").read_bytes()
    )
    flat = json.loads(
        (
            CONFORMANCE
            / "compositions"
            / "FLAT"
            / "minimal_evaluation.en.v1_20211018102718_000001_1.xml.flat.json"
        ).read_text()
    )
    flat[key] = value
    with pytest.raises(FlatError) as err:
        flat_to_canonical(opt, flat)
    assert any(reason in r for _, r in err.value.issues), err.value.issues
    assert any(
        k.split("|")[0].startswith(key.split("|")[0].split(":")[0]) for k, _ in err.value.issues
    )
