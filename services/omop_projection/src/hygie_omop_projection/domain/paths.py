"""openEHR paths over canonical JSON, and data values read from it (pure).

A path is ``/attr[node id]/attr/...``: a segment names an RM attribute and, optionally, the
``archetype_node_id`` (an at-code or an archetype id) the value must carry. A multiple
attribute (``events``, ``items``) yields every matching item, so a path yields a list.
"""

from __future__ import annotations

import functools
import operator
import re
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

__all__ = ["Located", "Value", "find_entries", "index_entries", "read_value", "select"]

_new = tuple.__new__  # NamedTuples built without their Python-level ``__new__``

_SEGMENT = re.compile(r"^([a-z_]+)(?:\[([^\]]+)\])?$")


class Located(NamedTuple):
    """A node of the composition and its path from the composition root (a tuple: made
    for every node a path reaches, so built as cheaply as Python allows)."""

    node: Any
    path: str


@functools.lru_cache(maxsize=4096)
def _segments(path: str) -> tuple[tuple[str, str | None], ...]:
    """The parsed segments of a path (mappings use few paths: parsed once)."""
    out: list[tuple[str, str | None]] = []
    for raw in path.strip("/").split("/"):
        if not raw:
            continue
        if raw == "**":
            out.append(("**", None))
            continue
        match = _SEGMENT.match(raw)
        if match is None:
            raise ValueError(f"bad openEHR path segment {raw!r} in {path!r}")
        out.append((match.group(1), match.group(2)))
    return tuple(out)


def select(start: Located, path: str) -> list[Located]:
    """Every node reached from ``start`` by ``path`` (relative), with its full path.

    ``**`` stands for the node itself and every node below it (e.g. an analyte CLUSTER
    nested in a panel CLUSTER).
    """
    current = [start]
    for attr, node_id in _segments(path):
        if len(current) == 1:  # the common case: one node, one attribute
            loc = current[0]
            if attr == "**":
                current = _descendants(loc)
            elif type(loc.node) is dict and attr in loc.node:
                current = _children(loc, attr, node_id)
            else:
                return []
            continue
        following: list[Located] = []
        for loc in current:
            if attr == "**":
                following.extend(_descendants(loc))
            elif isinstance(loc.node, dict) and attr in loc.node:
                following.extend(_children(loc, attr, node_id))
        current = following
    return current


def _children(loc: Located, attr: str, node_id: str | None = None) -> list[Located]:
    """The values of one attribute, labelled by node id (``#n`` from the second of an id)."""
    value = loc.node[attr]
    prefix = f"{loc.path}/{attr}"
    if type(value) is not list:  # a single attribute: no sibling to number
        nid = value.get("archetype_node_id", "") if type(value) is dict else ""
        if node_id is not None and nid != node_id:
            return []
        return [Located(value, f"{prefix}[{nid}]" if nid else prefix)]
    counts: dict[str, int] = {}
    out = []
    for item in value:
        nid = item.get("archetype_node_id", "") if type(item) is dict else ""
        if node_id is not None and nid != node_id:
            continue
        n = counts[nid] = counts.get(nid, 0) + 1
        label = nid if n == 1 else f"{nid}#{n}"
        out.append(Located(item, f"{prefix}[{label}]" if label else prefix))
    return out


def _descendants(start: Located) -> list[Located]:
    out, stack = [], [start]
    while stack:
        loc = stack.pop()
        out.append(loc)
        if isinstance(loc.node, dict):
            for attr in _WALKED:
                if attr in loc.node:
                    stack.extend(
                        c for c in reversed(_children(loc, attr)) if isinstance(c.node, dict)
                    )
    return out


#: archetype id prefixes of the ENTRY classes: an entry holds no other entry (openEHR RM)
_ENTRIES = tuple(
    f"openEHR-EHR-{kind}."
    for kind in ("OBSERVATION", "EVALUATION", "INSTRUCTION", "ACTION", "ADMIN_ENTRY")
)


def index_entries(
    composition: dict[str, Any], *, inside_entries: bool = True
) -> dict[str, list[Located]]:
    """Every archetyped node of the composition (the root included), by archetype id,
    in one walk; ``inside_entries=False`` does not walk into entries (their clusters are
    not indexed: enough when no mapping names a CLUSTER archetype, and much less work)."""
    found: dict[str, list[Located]] = {}
    root = Located(composition, "")
    root_id = composition.get("archetype_node_id") or (
        (composition.get("archetype_details") or {}).get("archetype_id", {}).get("value")
    )
    if root_id:
        found[root_id] = [root]
    stack = [root]
    while stack:
        loc = stack.pop()
        node, path = loc
        if loc is not root:
            nid = node.get("archetype_node_id", "")
            if nid.startswith("openEHR-"):
                bucket = found.get(nid)
                if bucket is None:
                    found[nid] = [loc]
                else:
                    bucket.append(loc)
                if not inside_entries and nid.startswith(_ENTRIES):
                    continue
        for attr in _WALKED:
            if attr not in node:
                continue
            # ``_children(loc, attr)``, keeping the objects only
            value = node[attr]
            prefix = f"{path}/{attr}"
            if type(value) is not list:
                if isinstance(value, dict):
                    nid = value.get("archetype_node_id", "") if type(value) is dict else ""
                    stack.append(_new(Located, (value, f"{prefix}[{nid}]" if nid else prefix)))
                continue
            counts: dict[Any, int] = {}
            for item in value:
                if type(item) is dict:
                    nid = item.get("archetype_node_id", "")
                    n = counts[nid] = counts.get(nid, 0) + 1
                    label = nid if n == 1 else f"{nid}#{n}"
                    stack.append(_new(Located, (item, f"{prefix}[{label}]" if label else prefix)))
                    continue
                n = counts[""] = counts.get("", 0) + 1
                if isinstance(item, dict):  # a dict subclass: labelled without its id
                    label = "" if n == 1 else f"#{n}"
                    stack.append(_new(Located, (item, f"{prefix}[{label}]" if label else prefix)))
    for located in found.values():
        if len(located) > 1:
            located.sort(key=_by_path)
    return found


_by_path = operator.itemgetter(1)


def find_entries(composition: dict[str, Any], archetype_id: str) -> list[Located]:
    """Every node of the composition whose archetype is ``archetype_id`` (any depth)."""
    return index_entries(composition).get(archetype_id, [])


_WALKED = ("content", "items", "data", "events", "activities", "description")


class Value(NamedTuple):
    """What an OMOP row needs of a data value."""

    rm_type: str
    number: float | None = None
    text: str | None = None
    units: str | None = None
    system: str | None = None
    code: str | None = None
    when: datetime | None = None


_TIMES: dict[str, datetime | None] = {}
"""parsed date/time strings (a composition repeats its times: the context's, its events')"""


def _parse_time(raw: str) -> datetime | None:
    parsed = _TIMES.get(raw, _UNPARSED)
    if parsed is _UNPARSED:
        if len(_TIMES) >= 4096:
            _TIMES.clear()
        parsed = _TIMES[raw] = _parse(raw)
    return parsed  # type: ignore[return-value]


_UNPARSED = object()


def _parse(raw: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        try:
            day = date.fromisoformat(raw[:10])
        except ValueError:
            return None
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def read_value(node: Any) -> Value | None:
    """The data value of an ELEMENT (or the value itself); None when absent/unsupported."""
    if type(node) is not dict and not isinstance(node, dict):
        return None
    inner = node.get("value")
    if type(inner) is dict or (type(inner) is not str and isinstance(inner, dict)):
        node = inner
        rm = node.get("_type", "")
    else:
        rm = node.get("_type", "")
        if rm == "ELEMENT":
            return None
    # Value built positionally: (rm_type, number, text, units, system, code, when)
    if rm == "DV_DATE_TIME" or rm == "DV_DATE":
        raw = node.get("value")
        if type(raw) is str:
            when = _TIMES.get(raw, _UNPARSED)
            if when is _UNPARSED:
                when = _parse_time(raw)
        else:
            when = _parse_time(raw) if isinstance(raw, str) else None
        return _new(Value, (rm, None, raw, None, None, None, when))
    if rm == "DV_QUANTITY":
        magnitude = node.get("magnitude")
        number = magnitude if type(magnitude) is float else _num(magnitude)
        return _new(Value, (rm, number, None, node.get("units"), None, None, None))
    if rm == "DV_CODED_TEXT" or rm == "DV_ORDINAL":
        coded = node.get("defining_code") or (node.get("symbol") or {}).get("defining_code")
        coded = coded or {}
        text = (
            node.get("value") if rm == "DV_CODED_TEXT" else (node.get("symbol") or {}).get("value")
        )
        return _new(Value, (
            rm, _num(node.get("value")) if rm == "DV_ORDINAL" else None, text, None,
            (coded.get("terminology_id") or {}).get("value"), coded.get("code_string"), None,
        ))  # fmt: skip
    if rm == "DV_COUNT":
        return _new(Value, (rm, _num(node.get("magnitude")), None, None, None, None, None))
    if rm == "DV_PROPORTION":
        num, den = _num(node.get("numerator")), _num(node.get("denominator"))
        # proportion type 2 (percent): numerator is the percentage, denominator is 100
        number = None if num is None else (num if den in (None, 100.0) else 100 * num / den)
        return _new(Value, (rm, number, None, "%", None, None, None))
    if rm in ("DV_TEXT", "DV_BOOLEAN", "DV_IDENTIFIER"):
        raw = node.get("value", node.get("id"))
        return _new(Value, (rm, None, None if raw is None else str(raw), None, None, None, None))
    return None


def _num(raw: Any) -> float | None:
    if type(raw) is float:
        return raw
    if isinstance(raw, bool) or raw is None:
        return None
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None
