"""The instance tree (FLAT/STRUCTURED) ↔ canonical COMPOSITION, walking the web template.

Each web node carries the RM steps from its parent's data object to its own; the last
list-valued step is the one that repeats (``:0``, ``:1``...). Nothing is dropped: a key
that matches no node, no ``_`` attribute and no suffix of its value is reported."""

from __future__ import annotations

from typing import Any

from .builder import fixed_name
from .codecs import CodecError, decode, encode, is_leaf
from .model import Step, WebNode
from .placement import create, ensure, matches, repeat_at
from .residual import (
    RAW_LISTS,
    RESIDUAL_ATTRS,
    FoldLevel,
    apply_residual,
    fold_levels,
    merge,
    node_residual,
    raw_decode,
    raw_encode,
    same,
    value_residual,
)
from .rmattrs import ATTRS, decode_attr, encode_attr
from .terminology import openehr_rubric

__all__ = ["Issues", "from_canonical", "to_canonical", "tree_to_flat"]

Instance = dict[str, Any]


class Issues(list[tuple[str, str]]):
    """The (key, reason) problems found, and the keys as the client wrote them."""

    def __init__(self, written: dict[int, str] | None = None) -> None:
        super().__init__()
        self.written = written or {}
        #: id(canonical object) -> (FLAT key, web node) of what placed it
        self.placed: dict[int, tuple[str, WebNode]] = {}

    def key(self, inst: Any, computed: str) -> str:
        return self.written.get(id(inst), computed)


_ENTRY = {"OBSERVATION", "EVALUATION", "INSTRUCTION", "ACTION", "ADMIN_ENTRY", "GENERIC_ENTRY"}
_ALLOWED = {
    "_uid": None,
    "_name": None,
    "_link": None,
    "_end_time": {"EVENT_CONTEXT"},
    "_location": {"EVENT_CONTEXT"},
    "_health_care_facility": {"EVENT_CONTEXT"},
    "_participation": {"EVENT_CONTEXT"},
    "_other_participation": _ENTRY,
    "_provider": _ENTRY,
    "_work_flow_id": _ENTRY,
    "_guideline_id": _ENTRY,
    "_instruction_details": {"ACTION"},
    "_wf_definition": {"INSTRUCTION"},
    "_null_flavour": {"ELEMENT"},
}


# -- instance tree → canonical ---------------------------------------------------------
def to_canonical(root: WebNode, inst: Instance, issues: Issues, key: str) -> dict[str, Any]:
    obj = create(Step("", root.rm_type, root.cobj, node_id=root.node_id, default_name=root.name))
    issues.placed[id(obj)] = (key, root)
    _fill(root, inst, obj, key, issues)
    return obj


def _template_order(node: WebNode, inst: Instance) -> list[tuple[str, Any]]:
    """Instance keys in template order, so that data is built as the template lays it out."""
    rank = {id(c): i for i, c in enumerate(node.children)}

    def order(item: tuple[str, Any]) -> int:
        child = node.child(item[0])
        return -1 if child is None else rank[id(child)]

    return sorted(inst.items(), key=order)


def _fill(node: WebNode, inst: Instance, obj: dict[str, Any], key: str, issues: Issues) -> None:
    for name, value in _template_order(node, inst):
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
        if name.startswith("_") and name[1:] in RESIDUAL_ATTRS:
            apply_residual(obj, name[1:], value, fold_levels(node), _reuse)
            continue
        child = node.child(name)
        if child is None:
            issues.append((where, f"unknown node {name!r} under {node.id!r}"))
            continue
        if child.max != -1 and len(value) > child.max:
            issues.append((where, f"at most {child.max} allowed"))
            continue
        for i, sub in enumerate(value):
            written = f"{where}:{i}" if child.max != 1 or i else where
            _place(child, sub, obj, issues.key(sub, written), issues)
    if node.rm_type == "ISM_TRANSITION":
        _default_state(node, obj)


def _careflow_codes(alt: Any) -> list[str]:
    attr = alt.attribute("careflow_step")
    for coded in attr.children if attr else []:
        phrase = coded.attribute("defining_code")
        for p in phrase.children if phrase else []:
            return list(p.codes)
    return []


def _default_state(node: WebNode, obj: dict[str, Any]) -> None:
    """A careflow step without ``current_state``: the state the template gives that step
    (its ``currentStates`` in the web template), as EHRbase fills it."""
    code = ((obj.get("careflow_step") or {}).get("defining_code") or {}).get("code_string")
    for alt in node.alternatives:  # the name a template gives the transition of this step
        name = fixed_name(alt)
        if name is not None and "name" not in obj and code in _careflow_codes(alt):
            obj["name"] = {"_type": "DV_TEXT", "value": name}
    careflow = node.child("careflow_step")
    if "current_state" in obj or code is None or careflow is None:
        return
    for item in (i for inp in careflow.inputs for i in inp.get("list", [])):
        if item["value"] == code and item.get("currentStates"):
            state = item["currentStates"][0]
            obj["current_state"] = {
                "_type": "DV_CODED_TEXT",
                "value": openehr_rubric(state) or state,
                "defining_code": {
                    "_type": "CODE_PHRASE",
                    "terminology_id": {"_type": "TERMINOLOGY_ID", "value": "openehr"},
                    "code_string": state,
                },
            }
            return


_ELEMENT_ATTRS = ("_null_flavour", "_uid", "_name", "_link")
_BOUNDS = {"lower_included", "upper_included", "lower_unbounded", "upper_unbounded"}


def _fill_attr(
    node: WebNode, name: str, value: list[Instance], obj: dict[str, Any], where: str, issues: Issues
) -> None:
    allowed = _ALLOWED[name]
    if allowed is not None and obj.get("_type") not in allowed:
        issues.append((where, f"{name} does not apply to {obj.get('_type')}"))
        return
    if any("|_type" in v or any(k and not k.startswith("|") for k in v) for v in value):
        attr = ATTRS[name][0]  # written by RM attribute names (see _attr_of)
        obj[attr] = raw_encode(attr, value)
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
    r = node.shared + repeat_at(steps[node.shared :])
    obj = parent
    leaf = is_leaf(node)
    last = len(steps) - 1 if leaf else len(steps)
    for i, step in enumerate(steps[:last]):
        obj = ensure(obj, step, new=i >= r)
    if not leaf or obj.get("_type") == "ELEMENT":  # not an EVENT holding its time
        issues.placed[id(obj)] = (key, node)
    if not leaf:
        _fill(node, inst, obj, key, issues)
        return
    values = {k: v for k, v in inst.items() if k == "" or k.startswith("|")}
    extra = inst.get("_value")
    element = obj.get("_type") == "ELEMENT"
    for name, sub in inst.items():
        if name in _ELEMENT_ATTRS and element:
            _fill_attr(node, name, sub, obj, f"{key}/{name}", issues)
        elif element and name.startswith("_") and name[1:] in RESIDUAL_ATTRS - {"value"}:
            apply_residual(obj, name[1:], sub, fold_levels(node), _reuse)
        elif not (name == "" or name.startswith("|") or name == "_value"):
            issues.append((f"{key}/{name}", f"unknown node {name!r} under leaf {node.id!r}"))
    if not values:
        if extra:
            obj[steps[-1].attr] = raw_encode("value", extra)
        return
    given = dict(values)
    try:
        value = encode(node, values)  # consumes the suffixes it places
    except CodecError as exc:
        suffix = f"|{exc.suffix}" if exc.suffix else ""
        issues.append((key + suffix if suffix in given else key, str(exc)))
        _other_faults(node, given, suffix, key, issues)
        return
    for left in values:
        issues.append((f"{key}{left or ''}", f"unknown suffix for {node.rm_type}"))
    if extra and isinstance(value, dict):
        merge(value, raw_encode("value", extra))
    obj[steps[-1].attr] = value
    if isinstance(value, dict):
        issues.placed[id(value)] = (key, node)


def _other_faults(
    node: WebNode, values: dict[str, Any], failed: str, key: str, issues: Issues
) -> None:
    """The other faults of a leaf whose value failed on ``failed``: encoding again without
    each failing suffix in turn reports every offending suffix, not only the first."""
    rest = dict(values)
    for _ in range(len(values)):
        if not failed or failed not in rest:
            return
        del rest[failed]
        try:
            encode(node, trial := dict(rest))
        except CodecError as exc:
            failed = f"|{exc.suffix}" if exc.suffix else ""
            if failed in rest:
                issues.append((key + failed, str(exc)))
            continue
        issues.extend((f"{key}{left}", f"unknown suffix for {node.rm_type}") for left in trial)
        return


def _reuse(parent: dict[str, Any], step: Step) -> dict[str, Any]:
    return ensure(parent, step, new=False)


# -- canonical → instance tree ---------------------------------------------------------
def from_canonical(root: WebNode, data: dict[str, Any]) -> Instance:
    return _read(root, data)


def _read(node: WebNode, obj: dict[str, Any]) -> Instance:
    out: Instance = {}
    for name, allowed in _ALLOWED.items():
        if allowed is not None and obj.get("_type") not in allowed:
            continue
        if name == "_null_flavour":
            continue
        if name == "_name":
            if (obj.get("name") or {}).get("value") not in (None, node.name):
                out[name] = [{"": obj["name"]["value"]}]
            continue
        found = _attr_of(name, obj)
        if found:
            out[name] = found
    if node.rm_type.startswith("DV_INTERVAL"):
        for b in _BOUNDS:
            if b in obj:
                out[f"|{b}"] = obj[b]
    skip = {"_type", "archetype_node_id", "name"}
    skip.update(ATTRS[k][0] for k in out if k in ATTRS)
    if node.rm_type.startswith("DV_INTERVAL"):
        skip.update(_BOUNDS)
    skip.update(
        ATTRS[k][0]
        for k, allowed in _ALLOWED.items()
        if k != "_name" and (allowed is None or obj.get("_type") in allowed)
    )
    for child in node.children:
        if child.display_only:
            continue
        found = _find(child, obj)
        if found:
            out[child.id] = found
    default = create(node.steps[-1]) if node.steps else create(_root_step(node))
    if not node.steps and isinstance(obj.get("archetype_details"), dict):
        default["archetype_details"]["template_id"] = obj["archetype_details"].get("template_id")
    out.update(node_residual(obj, fold_levels(node), skip=skip, default=default))
    return out


def _attr_of(name: str, obj: dict[str, Any]) -> list[Instance] | None:
    """A standard ``_`` attribute by its FLAT suffixes, or by RM attribute names (with
    ``|_type``) when the suffixes cannot say all of it."""
    found = decode_attr(name, obj)
    if not found:
        return found
    attr, many, _, _ = ATTRS[name]
    probe: dict[str, Any] = {}
    try:
        encode_attr(name, probe, [dict(v) for v in found])
    except CodecError:
        probe = {}
    if same(probe.get(attr), obj[attr]):
        return found
    items = obj[attr] if many else [obj[attr]]
    return [raw_decode(item)[0] for item in items]


def _root_step(node: WebNode) -> Step:
    return Step("", node.rm_type, node.cobj, node_id=node.node_id, default_name=node.name)


def _collect(obj: Any, steps: tuple[Step, ...], strict: bool) -> list[Any]:
    current = [obj]
    for step in steps:
        nxt: list[Any] = []
        for o in current:
            if not isinstance(o, dict):
                continue
            v = o.get(step.attr)
            items = v if isinstance(v, list) else ([] if v is None else [v])
            nxt.extend(x for x in items if matches(x, step, strict_type=strict))
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
            decoded = {k: v for k, v in decode(node, values[0]).items() if v is not None}
            try:
                rebuilt = encode(node, dict(decoded))
            except CodecError:
                decoded, rebuilt = {}, None
            inst.update(decoded)
            extra = value_residual(values[0], rebuilt)
            if extra:
                inst["_value"] = raw_decode(extra)
        if isinstance(holder, dict) and holder.get("_type") == "ELEMENT" and holder is not obj:
            for name in ("_null_flavour", "_uid", "_link"):
                found = _attr_of(name, holder)
                if found:
                    inst[name] = found
            if (holder.get("name") or {}).get("value") not in (None, node.name):
                inst["_name"] = [{"": holder["name"]["value"]}]
            skip = {"_type", "archetype_node_id", "name", "value", "uid", "links", "null_flavour"}
            inst.update(
                node_residual(holder, FoldLevel(), skip=skip, default=create(node.steps[-2]))
            )
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
            if child is None:  # a ``_`` attribute, or an RM attribute inside one
                many = (
                    ATTRS[key][1]
                    if key in ATTRS
                    else key.lstrip("_") in RAW_LISTS or len(value) > 1
                )
                for i, sub in enumerate(value):
                    walk(None, sub, f"{prefix}/{key}:{i}" if many else f"{prefix}/{key}")
                continue
            for i, sub in enumerate(value):
                walk(child, sub, f"{prefix}/{key}:{i}" if child.max != 1 else f"{prefix}/{key}")

    walk(root, tree, root.id)
    return out
