"""Placing RM objects along web-template steps: creating, matching and finding them."""

from __future__ import annotations

from typing import Any

from .model import Step

__all__ = ["LIST_ATTRS", "create", "ensure", "matches", "repeat_at"]

LIST_ATTRS = {
    "content",
    "items",
    "events",
    "activities",
    "participations",
    "other_participations",
    "links",
}
_EVENT_TYPES = {"EVENT": ("POINT_EVENT", "INTERVAL_EVENT", "EVENT")}


def _base(rm_type: str) -> str:
    return rm_type.split("<", 1)[0]


def create(step: Step) -> dict[str, Any]:
    rm = _base(step.rm_type)
    if rm == "EVENT":
        rm = "POINT_EVENT"
    obj: dict[str, Any] = {"_type": rm}
    if step.node_id:
        obj["name"] = {"_type": "DV_TEXT", "value": step.name or step.default_name or step.node_id}
        if step.name_code:
            obj["name"] = {
                "_type": "DV_CODED_TEXT",
                "value": obj["name"]["value"],
                "defining_code": {
                    "_type": "CODE_PHRASE",
                    "terminology_id": {"_type": "TERMINOLOGY_ID", "value": "local"},
                    "code_string": step.name_code,
                },
            }
        obj["archetype_node_id"] = step.node_id
        if step.cobj is not None and step.cobj.is_archetype_root:
            obj["archetype_details"] = {
                "_type": "ARCHETYPED",
                "archetype_id": {"_type": "ARCHETYPE_ID", "value": step.node_id},
                "rm_version": "1.0.4",
            }
    return obj


def _type_ok(obj: Any, rm_type: str) -> bool:
    if not isinstance(obj, dict):
        return rm_type == "STRING"
    actual = obj.get("_type")
    if not isinstance(actual, str):
        return True
    base = _base(rm_type)
    if base == "PARTY_PROXY":
        return actual.startswith("PARTY_")
    if base in _EVENT_TYPES:
        return actual in _EVENT_TYPES[base]
    if base in ("ITEM_STRUCTURE",):
        return actual.startswith("ITEM_")
    return actual == base or {base, actual} == {"DV_CODED_TEXT", "DV_TEXT"}


def matches(obj: Any, step: Step, *, strict_type: bool = False) -> bool:
    if step.node_id:
        if not isinstance(obj, dict) or obj.get("archetype_node_id") != step.node_id:
            return False
        name = (obj.get("name") or {}).get("value")
        if step.name is not None:
            return name == step.name
        return name not in step.not_names
    if strict_type and isinstance(obj, dict):
        return bool(obj.get("_type", step.rm_type) == _base(step.rm_type))
    return _type_ok(obj, step.rm_type)


def repeat_at(steps: tuple[Step, ...]) -> int:
    for i in range(len(steps) - 1, -1, -1):
        if steps[i].attr in LIST_ATTRS:
            return i
    return max(len(steps) - 1, 0)


def ensure(parent: dict[str, Any], step: Step, *, new: bool) -> dict[str, Any]:
    if step.attr in LIST_ATTRS:
        items = parent.setdefault(step.attr, [])
        if not new:
            for item in items:
                if matches(item, step):
                    found: dict[str, Any] = item
                    return found
        obj = create(step)
        items.append(obj)
        return obj
    existing = parent.get(step.attr)
    if isinstance(existing, dict) and not new:
        return existing
    obj = create(step)
    parent[step.attr] = obj
    return obj
