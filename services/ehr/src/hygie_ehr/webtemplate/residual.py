"""What a web template does not show, carried losslessly through FLAT.

EHRbase's FLAT drops the RM attributes no node stands for (``uid`` of an ITEM_TREE,
``HISTORY.origin``, ``feeder_audit``, ``normal_range``...). Here every such attribute of a
node's object is written as ``_<attribute>`` and its content by RM attribute names
(``|scalar``, ``child/…``, ``:n`` for lists), e.g. ``…/blood_pressure:0/_data/uid|value``;
objects a web template folds away (HISTORY, ITEM_TREE, a single EVENT) are reached the
same way (``_data``, ``_data/events``). Values keep what their suffixes cannot say under
``_value``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .model import Step, WebNode
from .placement import create, matches

__all__ = [
    "RAW_LISTS",
    "RESIDUAL_ATTRS",
    "FoldLevel",
    "apply_residual",
    "fold_levels",
    "merge",
    "node_residual",
    "raw_decode",
    "raw_encode",
    "same",
    "value_residual",
]

Instance = dict[str, Any]
#: RM attributes holding lists (the others hold one object)
RAW_LISTS = {
    "items",
    "content",
    "events",
    "activities",
    "participations",
    "other_participations",
    "links",
    "mappings",
    "other_reference_ranges",
    "originating_system_item_ids",
    "feeder_system_item_ids",
    "identifiers",
    "rows",
}


#: RM attributes a ``_<attribute>`` key may carry (anything else is an unknown key)
RESIDUAL_ATTRS = frozenset(
    {
        "uid",
        "feeder_audit",
        "archetype_details",
        "provider",
        "time_asserted",
        "origin",
        "duration",
        "period",
        "summary",
        "offset",
        "width",
        "math_function",
        "sample_count",
        "state",
        "null_reason",
        "value",
        "data",
        "protocol",
        "description",
        "other_context",
        "events",
        "items",
        "activities",
        "workflow_id",
        "guideline_id",
        "wf_definition",
        "location",
        "end_time",
        "health_care_facility",
        "participations",
        "other_participations",
        "instruction_details",
        "links",
        "item",
        "rows",
        "language",
        "encoding",
        "subject",
        "expiry_time",
        "narrative",
        "timing",
        "action_archetype_id",
        "ism_transition",
        "time",
        "setting",
        "start_time",
        "context",
        "composer",
        "category",
        "territory",
        "content",
    }
)


@dataclass(slots=True)
class FoldLevel:
    """The attributes the children of a node consume at one depth of folded objects."""

    consumed: set[str] = field(default_factory=set)
    folds: dict[str, tuple[Step, FoldLevel]] = field(default_factory=dict)


def fold_levels(node: WebNode) -> FoldLevel:
    """What the children of ``node`` consume, by depth of folded objects (cached)."""
    if node.folds is None:
        node.folds = _fold_levels(node)
    folds: FoldLevel = node.folds
    return folds


def _fold_levels(node: WebNode) -> FoldLevel:
    top = FoldLevel()
    for child in node.children:
        if child.display_only:
            continue
        level = top
        for depth in range(child.shared):
            step = child.steps[depth]
            level = level.folds.setdefault(step.attr, (step, FoldLevel()))[1]
        if len(child.steps) > child.shared:
            level.consumed.add(child.steps[child.shared].attr)
    return top


def same(a: Any, b: Any) -> bool:
    """Equal as canonical JSON, where a ``_type`` only one side spells does not count."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = (set(a) | set(b)) - ({"_type"} - (set(a) & set(b)))
        return all(k in a and k in b and same(a[k], b[k]) for k in keys)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return bool(a == b)


def raw_decode(value: Any) -> list[Instance]:
    """Any JSON value as FLAT instances: scalars as ``|attribute``, objects as children."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if not isinstance(item, dict):
            out.append({"": item})
            continue
        inst: Instance = {}
        for k, v in item.items():
            if isinstance(v, dict | list):
                inst[k] = raw_decode(v)
            else:
                inst[f"|{k}"] = v
        out.append(inst)
    return out


def raw_encode(attr: str, instances: list[Instance]) -> Any:
    values = [_raw_object(i) for i in instances]
    return values if attr in RAW_LISTS or len(values) > 1 else values[0]


def _raw_object(inst: Instance) -> Any:
    if set(inst) == {""}:
        return inst[""]
    out: dict[str, Any] = {}
    for k, v in inst.items():
        if k.startswith("|"):
            out[k[1:]] = v
        elif k:
            out[k] = raw_encode(k, v)
    return out


def merge(target: dict[str, Any], extra: dict[str, Any]) -> None:
    """Deep-merge ``extra`` into ``target`` (``extra`` wins)."""
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(target.get(k), dict):
            merge(target[k], v)
        else:
            target[k] = v


def _diff(actual: dict[str, Any], default: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in actual.items() if not (k in default and same(v, default[k]))}


def node_residual(
    obj: dict[str, Any],
    level: FoldLevel,
    *,
    skip: set[str],
    default: dict[str, Any],
    prefix: str = "_",
) -> Instance:
    """The attributes of ``obj`` no node, suffix or standard ``_`` key carries."""
    out: Instance = {}
    for k, v in obj.items():
        if k in skip or k in level.consumed:
            continue
        if k in level.folds:
            step, sub = level.folds[k]
            items = v if isinstance(v, list) else [v]
            found = [
                node_residual(x, sub, skip=_FOLDED_SKIP, default=create(step), prefix="")
                for x in items
                if isinstance(x, dict) and matches(x, step)
            ]
            if any(found):
                out[f"{prefix}{k}"] = found
            continue
        if k in default:
            v = _diff(v, default[k]) if isinstance(v, dict) and isinstance(default[k], dict) else v
            if v == {} or same(v, default[k]):
                continue
        out[f"{prefix}{k}"] = raw_decode(v)
    return out


_FOLDED_SKIP = {"archetype_node_id"}


def apply_residual(
    obj: dict[str, Any],
    attr: str,
    instances: list[Instance],
    level: FoldLevel,
    ensure: Callable[[dict[str, Any], Step], dict[str, Any]],
) -> None:
    """Put the residual ``_attr`` instances back on ``obj`` (into folded objects too)."""
    if attr in level.folds:
        step, sub = level.folds[attr]
        for inst in instances:
            target = ensure(obj, step)
            for k, v in inst.items():
                if k.startswith("|"):
                    target[k[1:]] = v
                else:
                    apply_residual(target, k, v, sub, ensure)
        return
    value = raw_encode(attr, instances)
    if isinstance(value, dict) and isinstance(obj.get(attr), dict):
        merge(obj[attr], value)
    else:
        obj[attr] = value


def value_residual(value: Any, rebuilt: Any) -> dict[str, Any] | None:
    """What of a data value its suffixes did not rebuild (None: nothing)."""
    if not isinstance(value, dict) or not isinstance(rebuilt, dict):
        return None if same(value, rebuilt) else {"": value}
    extra = {}
    for k, v in value.items():
        if k in rebuilt and same(v, rebuilt[k]):
            continue
        if isinstance(v, dict) and isinstance(rebuilt.get(k), dict):
            inner = value_residual(v, rebuilt[k])
            if inner:
                extra[k] = inner
        else:
            extra[k] = v
    return extra or None
