"""The instance tree (FLAT/STRUCTURED) ↔ canonical COMPOSITION, walking the web template.

Each web node carries the RM steps from its parent's data object to its own; the last
list-valued step is the one that repeats (``:0``, ``:1``...). Nothing is dropped: a key
that matches no node, no ``_`` attribute and no suffix of its value is reported."""

from __future__ import annotations

from typing import Any

from .codecs import CodecError, decode, encode, is_leaf
from .model import Step, WebNode
from .rmattrs import ATTRS, decode_attr, encode_attr

__all__ = ["Issues", "from_canonical", "to_canonical", "tree_to_flat"]

Instance = dict[str, Any]


class Issues(list[tuple[str, str]]):
    """The (key, reason) problems found, and the keys as the client wrote them."""

    def __init__(self, written: dict[int, str] | None = None) -> None:
        super().__init__()
        self.written = written or {}

    def key(self, inst: Any, computed: str) -> str:
        return self.written.get(id(inst), computed)


LIST_ATTRS = {
    "content",
    "items",
    "events",
    "activities",
    "participations",
    "other_participations",
    "links",
}
_ENTRY = {"OBSERVATION", "EVALUATION", "INSTRUCTION", "ACTION", "ADMIN_ENTRY", "GENERIC_ENTRY"}
_ALLOWED = {
    "_uid": None,
    "_name": None,
    "_link": None,
    "_end_time": {"EVENT_CONTEXT"},
    "_health_care_facility": {"EVENT_CONTEXT"},
    "_participation": {"EVENT_CONTEXT"},
    "_other_participation": _ENTRY,
    "_work_flow_id": _ENTRY,
    "_guideline_id": _ENTRY,
    "_instruction_details": {"ACTION"},
    "_wf_definition": {"INSTRUCTION"},
    "_null_flavour": {"ELEMENT"},
}
_EVENT_TYPES = {"EVENT": ("POINT_EVENT", "INTERVAL_EVENT", "EVENT")}


def _base(rm_type: str) -> str:
    return rm_type.split("<", 1)[0]


def _create(step: Step) -> dict[str, Any]:
    rm = _base(step.rm_type)
    if rm == "EVENT":
        rm = "POINT_EVENT"
    obj: dict[str, Any] = {"_type": rm}
    if step.node_id:
        obj["name"] = {"_type": "DV_TEXT", "value": step.name or step.default_name or step.node_id}
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
    if actual is None:
        return True
    base = _base(rm_type)
    if base == "PARTY_PROXY":
        return actual.startswith("PARTY_")
    if base in _EVENT_TYPES:
        return actual in _EVENT_TYPES[base]
    if base in ("ITEM_STRUCTURE",):
        return actual.startswith("ITEM_")
    return actual == base or (base == "DV_CODED_TEXT" and actual == "DV_TEXT")


def _matches(obj: Any, step: Step, *, strict_type: bool = False) -> bool:
    if step.node_id:
        if not isinstance(obj, dict) or obj.get("archetype_node_id") != step.node_id:
            return False
        name = (obj.get("name") or {}).get("value")
        if step.name is not None:
            return name == step.name
        return name not in step.not_names
    if strict_type and isinstance(obj, dict):
        return obj.get("_type", step.rm_type) == _base(step.rm_type)
    return _type_ok(obj, step.rm_type)


def _repeat_at(steps: tuple[Step, ...]) -> int:
    for i in range(len(steps) - 1, -1, -1):
        if steps[i].attr in LIST_ATTRS:
            return i
    return max(len(steps) - 1, 0)


def _ensure(parent: dict[str, Any], step: Step, *, new: bool) -> dict[str, Any]:
    if step.attr in LIST_ATTRS:
        items = parent.setdefault(step.attr, [])
        if not new:
            for item in items:
                if _matches(item, step):
                    return item
        obj = _create(step)
        items.append(obj)
        return obj
    existing = parent.get(step.attr)
    if isinstance(existing, dict) and not new:
        return existing
    obj = _create(step)
    parent[step.attr] = obj
    return obj


# -- instance tree → canonical ---------------------------------------------------------
def to_canonical(root: WebNode, inst: Instance, issues: Issues, key: str) -> dict[str, Any]:
    obj = _create(Step("", root.rm_type, root.cobj, node_id=root.node_id, default_name=root.name))
    _fill(root, inst, obj, key, issues)
    return obj


def _fill(node: WebNode, inst: Instance, obj: dict[str, Any], key: str, issues: Issues) -> None:
    for name, value in inst.items():
        where = f"{key}/{name}" if name and not name.startswith("|") else f"{key}{name}"
        if name == "" or name.startswith("|"):
            if not (node.rm_type.startswith("DV_INTERVAL") and name[1:] in _BOUNDS):
                issues.append((where, f"{node.rm_type} node {node.id!r} takes no value here"))
            else:
                obj[name[1:]] = (
                    str(value).lower() == "true" if not isinstance(value, bool) else value
                )
            continue
        if name in ATTRS:
            _fill_attr(node, name, value, obj, where, issues)
            continue
        child = node.child(name)
        if child is None:
            issues.append((where, f"unknown node {name!r} under {node.id!r}"))
            continue
        if child.max != -1 and len(value) > child.max:
            issues.append((where, f"at most {child.max} allowed"))
            continue
        for i, sub in enumerate(value):
            _place(child, sub, obj, issues.key(sub, f"{where}:{i}"), issues)


_BOUNDS = {"lower_included", "upper_included", "lower_unbounded", "upper_unbounded"}


def _fill_attr(
    node: WebNode, name: str, value: list[Instance], obj: dict[str, Any], where: str, issues: Issues
) -> None:
    allowed = _ALLOWED[name]
    if allowed is not None and obj.get("_type") not in allowed:
        issues.append((where, f"{name} does not apply to {obj.get('_type')}"))
        return
    instances = [dict(v) for v in value]
    try:
        encode_attr(name, obj, instances)
    except CodecError as exc:
        issues.append((where, str(exc)))
        return
    for v in instances:
        for left in v:
            issues.append((f"{where}{left}", f"unknown suffix of {name}"))


def _place(node: WebNode, inst: Instance, parent: dict[str, Any], key: str, issues: Issues) -> None:
    steps = node.steps
    r = node.shared + _repeat_at(steps[node.shared :])
    obj = parent
    leaf = is_leaf(node)
    last = len(steps) - 1 if leaf else len(steps)
    for i, step in enumerate(steps[:last]):
        obj = _ensure(obj, step, new=i >= r)
    if not leaf:
        _fill(node, inst, obj, key, issues)
        return
    values = {k: v for k, v in inst.items() if k == "" or k.startswith("|")}
    for name, sub in inst.items():
        if name in ("_null_flavour", "_uid", "_name", "_link") and obj.get("_type") == "ELEMENT":
            _fill_attr(node, name, sub, obj, f"{key}/{name}", issues)
        elif not (name == "" or name.startswith("|")):
            issues.append((f"{key}/{name}", f"unknown node {name!r} under leaf {node.id!r}"))
    if not values:
        return
    try:
        value = encode(node, values)
    except CodecError as exc:
        issues.append((key, str(exc)))
        return
    for left in values:
        issues.append((f"{key}{left or ''}", f"unknown suffix for {node.rm_type}"))
    obj[steps[-1].attr] = value


# -- canonical → instance tree ---------------------------------------------------------
def from_canonical(root: WebNode, data: dict[str, Any]) -> Instance:
    return _read(root, data)


def _read(node: WebNode, obj: dict[str, Any]) -> Instance:
    out: Instance = {}
    for name, allowed in _ALLOWED.items():
        if allowed is not None and obj.get("_type") not in allowed:
            continue
        if name == "_name" or (name == "_null_flavour"):
            continue
        found = decode_attr(name, obj)
        if found:
            out[name] = found
    if node.rm_type.startswith("DV_INTERVAL"):
        for b in _BOUNDS:
            if b in obj:
                out[f"|{b}"] = obj[b]
    for child in node.children:
        found = _find(child, obj)
        if found:
            out[child.id] = found
    return out


def _collect(obj: Any, steps: tuple[Step, ...], strict: bool) -> list[Any]:
    current = [obj]
    for step in steps:
        nxt = []
        for o in current:
            if not isinstance(o, dict):
                continue
            v = o.get(step.attr)
            items = v if isinstance(v, list) else ([] if v is None else [v])
            nxt.extend(x for x in items if _matches(x, step, strict_type=strict))
        current = nxt
    return current


def _find(node: WebNode, obj: dict[str, Any]) -> list[Instance]:
    leaf = is_leaf(node)
    strict = node.id.endswith("_value") and not node.node_id
    if not leaf:
        return [_read(node, o) for o in _collect(obj, node.steps, strict)]
    holders = _collect(obj, node.steps[:-1], False)
    out = []
    for holder in holders:
        inst: Instance = {}
        values = _collect(
            holder, node.steps[-1:], strict or (node.rm_type == "DV_CODED_TEXT" and False)
        )
        if values:
            inst.update({k: v for k, v in decode(node, values[0]).items() if v is not None})
        if isinstance(holder, dict) and holder.get("_type") == "ELEMENT" and holder is not obj:
            for name in ("_null_flavour",):
                found = decode_attr(name, holder)
                if found:
                    inst[name] = found
        if inst:
            out.append(inst)
    return out


def tree_to_flat(root: WebNode, tree: Instance) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def walk(node: WebNode | None, inst: Instance, prefix: str) -> None:
        for key, value in inst.items():
            if key == "" or key.startswith("|"):
                out[prefix + key] = value
        for key, value in inst.items():
            if key == "" or key.startswith("|"):
                continue
            child = node.child(key) if node is not None else None
            if child is None:  # a ``_`` attribute
                many = ATTRS[key][1]
                for i, sub in enumerate(value):
                    walk(None, sub, f"{prefix}/{key}:{i}" if many else f"{prefix}/{key}")
                continue
            for i, sub in enumerate(value):
                walk(child, sub, f"{prefix}/{key}:{i}" if child.max != 1 else f"{prefix}/{key}")

    walk(root, tree, root.id)
    return out
