"""An example FLAT composition of a web template: one instance of every node, the first
alternative of every choice, values taken from the template's lists and ranges."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ..domain.opt.model import CObject, OperationalTemplate
from ..domain.rm import mandatory_attributes
from . import flat_to_canonical, web_template
from .codecs import is_leaf
from .model import WebNode, WebTemplate

__all__ = ["complete_example", "example_canonical", "example_flat"]

#: RM attribute nodes the FLAT defaults fill (ctx), left out of the example body
_DEFAULTED = {"language", "encoding", "territory", "subject", "composer", "category", "setting"}
_SKIP = {
    "activity_id",
    "instruction_id",
    "action_archetype_id",
    "timing",
    "math_function",
    "width",
    "transition",
}


def _first(node: WebNode, suffix: str) -> dict[str, Any] | None:
    for i in node.inputs:
        if i.get("suffix", "") == suffix:
            return i
    return None


def _bound(node: WebNode, suffix: str, default: float) -> float:
    spec = _first(node, suffix) or {}
    rng = (spec.get("validation") or {}).get("range") or {}
    return float(rng.get("min", default))


def _constraint(node: WebNode, attr: str) -> Any:
    """The template's constraint on ``attr`` of the node's data value (None if free)."""
    c = node.steps[-1].cobj if node.steps else node.cobj
    a = c.attribute(attr) if c is not None else None
    return a.children[0] if a is not None and a.children else None


def _pattern(node: WebNode, attr: str) -> str | None:
    p = _constraint(node, attr)
    return p.primitive.pattern if p is not None and p.primitive is not None else None


def _matching(node: WebNode, attr: str, default: str) -> str:
    """``default``, or a value the template's regular expression on ``attr`` accepts when
    it is a literal prefix (``XYZ.*``)."""
    pattern = _pattern(node, attr)
    if not pattern or re.fullmatch(pattern, default):
        return default
    prefix = pattern.removesuffix(".*")
    if re.escape(prefix) == prefix and re.fullmatch(pattern, prefix + default):
        return prefix + default
    return default


def _temporal(node: WebNode, value: str) -> str:
    """A date/time cut before the first part the template's pattern forbids (``XX``)."""
    pattern = _pattern(node, "value") or ""
    date, _, time = value.partition("T")
    p_date, _, p_time = pattern.partition("T")
    if node.rm_type == "DV_DATE" or node.rm_type == "DV_DATE_TIME":
        parts = p_date.split("-")
        if len(parts) == 3 and "XX" in (parts[1].upper(), parts[2].upper()):
            keep = 1 if parts[1].upper() == "XX" else 2
            return "-".join(date.split("-")[:keep])
    if node.rm_type == "DV_DATE_TIME" and p_time:
        fields = p_time.split(":")
        if any(f.upper().startswith("XX") for f in fields):
            keep = next(i for i, f in enumerate(fields) if f.upper().startswith("XX"))
            return date if keep == 0 else f"{date}T{':'.join(time.split(':')[:keep])}"
    return value


def _leaf(node: WebNode, now: datetime) -> dict[str, Any]:
    t = node.rm_type
    if t in ("DV_CODED_TEXT", "DV_STATE"):
        code = _first(node, "code") or {}
        items = code.get("list") or []
        if items:
            return {"|code": items[0]["value"]}
        return {
            "|code": "42",
            "|value": "Example",
            "|terminology": code.get("terminology") or "local",
        }
    if t == "DV_ORDINAL":
        items = (node.inputs[0] if node.inputs else {}).get("list") or []
        if items:
            return {"|code": items[0]["value"]}
        return {"|code": "at0001", "|value": "Example", "|ordinal": 1, "|terminology": "local"}
    if t == "DV_QUANTITY":
        units = (_first(node, "unit") or {}).get("list") or []
        if units:
            rng = (units[0].get("validation") or {}).get("range") or {}
            return {"|magnitude": float(rng.get("min", 1.0)), "|unit": units[0]["value"]}
        return {"|magnitude": _bound(node, "magnitude", 1.0), "|unit": "1"}
    if t == "DV_COUNT":
        return {"": int(_bound(node, "", 1))}
    if t == "DV_BOOLEAN":
        items = (_first(node, "") or {}).get("list") or []
        return {"": items[0]["value"] == "true" if items else True}
    if t == "DV_TEXT":
        items = (_first(node, "") or {}).get("list") or []
        return {"": items[0]["value"] if items else "Lorem ipsum"}
    if t == "DV_DATE_TIME":
        return {"": _temporal(node, now.isoformat())}
    if t == "DV_DATE":
        return {"": _temporal(node, now.date().isoformat())}
    if t == "DV_TIME":
        return {"": now.time().isoformat(timespec="seconds")}
    if t == "DV_DURATION":
        fields = [i["suffix"] for i in node.inputs if "suffix" in i]
        unit = next(
            (
                f
                for f in ("hour", "minute", "second", "day", "week", "month", "year")
                if f in fields
            ),
            "hour",
        )
        return {"": ("PT1" if unit in ("hour", "minute", "second") else "P1") + unit[0].upper()}
    if t == "DV_PROPORTION":
        kinds = node.extra.get("proportionTypes") or ["ratio"]
        kind = ["ratio", "unitary", "percent", "fraction", "integer_fraction"].index(kinds[0])
        return {
            "|numerator": 1.0,
            "|denominator": {0: 2.0, 1: 1.0, 2: 100.0}.get(kind, 2.0),
            "|type": kind,
        }
    if t == "DV_IDENTIFIER":
        return {
            "|id": _matching(node, "id", "42"),
            "|issuer": _matching(node, "issuer", "Hygie"),
            "|assigner": _matching(node, "assigner", "Hygie"),
            "|type": _matching(node, "type", "example"),
        }
    if t in ("DV_URI", "DV_EHR_URI"):
        return {"": "ehr://example/" if t == "DV_EHR_URI" else "https://example.org/"}
    if t == "DV_MULTIMEDIA":
        media = _constraint(node, "media_type")
        kind = media.codes[0] if media is not None and media.codes else "image/png"
        return {"": "https://example.org/example", "|mediatype": kind, "|size": 1}
    if t == "DV_PARSABLE":
        return {"": "example", "|formalism": "text/plain"}
    return {}


def _empty_event(node: WebNode) -> bool:
    """An optional EVENT whose data the template leaves unconstrained: nothing to fill, and
    an EVENT without data is not valid."""
    return (
        node.rm_type in ("EVENT", "POINT_EVENT", "INTERVAL_EVENT")
        and node.min == 0
        and all(c.node_id is None for c in node.children)
    )


def example_flat(wt: WebTemplate, *, now: datetime) -> dict[str, Any]:
    """A FLAT document filling every node of ``wt`` once."""
    out: dict[str, Any] = {
        "ctx/language": wt.language,
        "ctx/territory": "FR",
        "ctx/composer_name": "Example composer",
        "ctx/time": now.isoformat(),
    }

    def walk(node: WebNode, prefix: str) -> None:
        choices = node.rm_type == "ELEMENT"
        used: dict[int, int] = {}  # instances per constraint among these siblings
        for child in node.children:
            if child.display_only or _empty_event(child):
                continue
            rm_attr = child.node_id is None
            if rm_attr and (
                child.id in _DEFAULTED or (child.id in _SKIP and node.rm_type != "INTERVAL_EVENT")
            ):
                continue
            if child.cobj is not None and child.node_id:  # one constraint, several named
                upper = child.cobj.occurrences.upper  # nodes: as often as it may occur
                if upper is not None and used.get(id(child.cobj), 0) >= upper:
                    continue
                used[id(child.cobj)] = used.get(id(child.cobj), 0) + 1
            # as many instances as the template requires (at least one)
            for i in range(max(1, child.min) if child.max != 1 else 1):
                path = f"{prefix}/{child.id}" + (f":{i}" if child.max != 1 else "")
                if is_leaf(child):
                    for suffix, value in _leaf(child, now).items():
                        out[path + suffix] = value
                else:
                    walk(child, path)
            if choices:
                break

    walk(wt.tree, wt.tree.id)
    return out


# --- what FLAT cannot write ----------------------------------------------------------------
#: RM-mandatory structures a template may leave unconstrained (nothing in FLAT to fill)
_RM_STRUCTURES = {
    ("ACTION", "description"),
    ("ACTIVITY", "description"),
    ("OBSERVATION", "data"),
    ("EVALUATION", "data"),
    ("ADMIN_ENTRY", "data"),
    ("POINT_EVENT", "data"),
    ("INTERVAL_EVENT", "data"),
    ("EVENT", "data"),
}
_STRUCTURES = {"ITEM_TREE", "ITEM_LIST", "CLUSTER", "SECTION"}


def example_canonical(opt: OperationalTemplate, *, now: datetime) -> dict[str, Any]:
    """The example composition of a template in canonical JSON (what ``GET
    .../{template_id}/example`` answers): the example FLAT document, converted, completed."""
    data: dict[str, Any] = flat_to_canonical(opt, example_flat(web_template(opt), now=now))
    return complete_example(opt, data)


def complete_example(opt: OperationalTemplate, data: dict[str, Any]) -> dict[str, Any]:
    """Complete the canonical form of an example FLAT document with what FLAT cannot
    express: an empty structure where the RM or the template requires one the template
    leaves empty (``ACTION.description``, ``EVENT.data``), and ``EVENT.offset`` (a computed
    RM attribute some templates make mandatory) as the event's time minus its history's
    origin. In place; returns ``data``."""
    _complete(data, opt.definition, None)
    return data


def _complete(data: Any, c: CObject | None, origin: str | None) -> None:
    if c is None:
        return
    if c.kind == "ARCHETYPE_INTERNAL_REF":
        if c.target is None:
            return
        c = c.target
    if not isinstance(data, dict) or c.kind in ("C_PRIMITIVE_OBJECT", "ARCHETYPE_SLOT"):
        return
    rm_type = data.get("_type") or c.rm_type
    if rm_type == "HISTORY":
        origin = (data.get("origin") or {}).get("value") or origin
    for attr in c.attributes:
        value = data.get(attr.name)
        if isinstance(value, list):
            for item in value:
                _complete(item, _constraint_of(item, attr.children), origin)
        elif isinstance(value, dict):
            _complete(value, _constraint_of(value, attr.children), origin)
        elif value is None and (attr.existence.lower or 0) >= 1 and not attr.multiple:
            made = _minimal(attr.children[0], attr.name, data, origin) if attr.children else None
            if made is None and (rm_type, attr.name) in _RM_STRUCTURES:
                made = _empty_tree()
            if made is not None:
                data[attr.name] = made
    for name in mandatory_attributes(rm_type):
        if data.get(name) is None and (rm_type, name) in _RM_STRUCTURES:
            data[name] = _empty_tree()


def _constraint_of(item: Any, children: list[CObject]) -> CObject | None:
    node_id = item.get("archetype_node_id") if isinstance(item, dict) else None
    for child in children:
        if child.match_id == node_id:
            return child
    return children[0] if children else None


def _empty_tree() -> dict[str, Any]:
    return {
        "_type": "ITEM_TREE",
        "archetype_node_id": "at0001",
        "name": {"_type": "DV_TEXT", "value": "Tree"},
        "items": [],
    }


def _minimal(c: CObject, attr: str, parent: dict[str, Any], origin: str | None) -> Any:
    if attr == "offset" and c.rm_type == "DV_DURATION":
        return {"_type": "DV_DURATION", "value": _offset(parent, origin)}
    if c.rm_type in _STRUCTURES and c.match_id:
        root = c.root
        made: dict[str, Any] = {
            "_type": c.rm_type,
            "archetype_node_id": c.match_id,
            "name": {
                "_type": "DV_TEXT",
                "value": (root.terms.get(c.node_id or "") if root else None) or c.rm_type.title(),
            },
        }
        _complete(made, c, origin)
        return made
    return None


def _offset(event: dict[str, Any], origin: str | None) -> str:
    """ISO 8601 duration from the history's origin to the event's time (PT0S if unknown)."""
    try:
        time = datetime.fromisoformat(str((event.get("time") or {}).get("value")))
        start = datetime.fromisoformat(str(origin))
        seconds = int((time - start).total_seconds())
    except (TypeError, ValueError):
        return "PT0S"
    sign = "-" if seconds < 0 else ""
    return f"{sign}PT{abs(seconds)}S"
