"""Mapping paths compiled once, and walked over raw nodes (pure; the mapper's hot path).

``paths.select`` builds a ``Located`` (node and full path) for every node a path reaches;
the mapper needs the full path of one node per row only. These walks follow the same
rules and yield the same nodes in the same order as ``select``, building a path only for
the nodes they return (``first``, ``every``) or none at all (``first_node``,
``first_time``). Only ``every`` walks ``**``; for the others a path with ``**`` (and for
all an invalid path) compiles to ``None``: the caller then uses ``select`` itself, which
raises where it raised before.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from .mappings import Mapping, Rule
from .paths import Located, _segments, read_value, select
from .paths import _descendants as descendants

__all__ = [
    "MISSING",
    "CompiledRule",
    "Steps",
    "every",
    "every_steps_of",
    "first",
    "first_node",
    "first_time",
    "rules_of",
    "select_time",
    "steps_of",
]

Steps = tuple[tuple[str, str | None, str], ...]
"""(attribute, node id or None, ``/attribute[node id]``) of each segment of a path"""

MISSING: Any = object()
"""no node reached (a reached node may itself be ``None``: a JSON null)"""


@functools.lru_cache(maxsize=4096)
def steps_of(path: str) -> Steps | None:
    """The compiled steps of a path; None when ``select`` must walk it (``**``, invalid)."""
    steps = every_steps_of(path)
    return None if steps is None or any(s[0] == "**" for s in steps) else steps


@functools.lru_cache(maxsize=4096)
def every_steps_of(path: str) -> Steps | None:
    """The compiled steps of a path for ``every`` (which walks ``**``); None if invalid."""
    try:
        segments = _segments(path)
    except ValueError:
        return None  # ``select`` raises it where the original did
    return tuple((attr, nid, f"/{attr}[{nid}]" if nid else "") for attr, nid in segments)


def first(node: Any, path: str, steps: Steps, i: int = 0) -> tuple[Any, str] | None:
    """``select(Located(node, path), ...)[0]`` as (node, path), or None."""
    n = len(steps)
    while i < n:
        if type(node) is not dict:
            return None
        attr, want, seg = steps[i]
        value = node.get(attr, MISSING)
        if value is MISSING:
            return None
        i += 1
        if type(value) is list:
            if want is not None:
                count = 0
                for item in value:
                    if (item.get("archetype_node_id", "") if type(item) is dict else "") == want:
                        count += 1
                        label = seg if count == 1 else f"/{attr}[{want}#{count}]"
                        if i == n:
                            return item, path + label
                        found = first(item, path + label, steps, i)
                        if found is not None:
                            return found
                return None
            counts: dict[Any, int] = {}
            prefix = f"{path}/{attr}"
            for item in value:
                nid = item.get("archetype_node_id", "") if type(item) is dict else ""
                c = counts[nid] = counts.get(nid, 0) + 1
                label = nid if c == 1 else f"{nid}#{c}"
                found = first(item, f"{prefix}[{label}]" if label else prefix, steps, i)
                if found is not None:
                    return found
            return None
        nid = value.get("archetype_node_id", "") if type(value) is dict else ""
        if want is not None:
            if nid != want:
                return None
            path += seg
        else:
            path = f"{path}/{attr}[{nid}]" if nid else f"{path}/{attr}"
        node = value
    return node, path


def first_node(node: Any, steps: Steps, i: int = 0) -> Any:
    """``select(...)[0].node`` without its path; ``MISSING`` when nothing is reached."""
    return _first(node, steps, i, _itself)


def _itself(node: Any) -> Any:
    return node


def _time_of(node: Any) -> Any:
    value = read_value(node) if type(node) is dict else None
    return MISSING if value is None or value.when is None else value.when


def _first(node: Any, steps: Steps, i: int, leaf: Any) -> Any:
    """``leaf`` of the first node the path reaches (in ``select`` order) for which it is
    not ``MISSING``."""
    n = len(steps)
    while i < n:
        if type(node) is not dict:
            return MISSING
        attr, want, _ = steps[i]
        value = node.get(attr, MISSING)
        if value is MISSING:
            return MISSING
        i += 1
        if type(value) is list:
            for item in value:
                if (
                    want is None
                    or (item.get("archetype_node_id", "") if type(item) is dict else "") == want
                ):
                    found = _first(item, steps, i, leaf)
                    if found is not MISSING:
                        return found
            return MISSING
        if (
            want is not None
            and (value.get("archetype_node_id", "") if type(value) is dict else "") != want
        ):
            return MISSING
        node = value
    return leaf(node)


def every(node: Any, path: str, steps: Steps) -> list[tuple[Any, str]]:
    """``select(Located(node, path), ...)`` as (node, path) pairs."""
    out: list[tuple[Any, str]] = []
    _every(node, path, steps, 0, out)
    return out


def _every(node: Any, path: str, steps: Steps, i: int, out: list[tuple[Any, str]]) -> None:
    n = len(steps)
    while i < n:
        attr, want, seg = steps[i]
        if attr == "**":
            if i + 2 == n and steps[i + 1][1] is not None:
                _below(node, path, steps[i + 1], out)  # ``**/attr[id]`` ending the path
            else:
                for below, below_path in _descendants(node, path):
                    _every(below, below_path, steps, i + 1, out)
            return
        if type(node) is not dict:
            return
        value = node.get(attr, MISSING)
        if value is MISSING:
            return
        i += 1
        if type(value) is list:
            counts: dict[Any, int] = {}
            prefix = f"{path}/{attr}"
            for item in value:
                nid = item.get("archetype_node_id", "") if type(item) is dict else ""
                if want is not None and nid != want:
                    continue
                c = counts[nid] = counts.get(nid, 0) + 1
                label = nid if c == 1 else f"{nid}#{c}"
                if i == n:  # the last step: the item itself
                    out.append((item, f"{prefix}[{label}]" if label else prefix))
                else:
                    _every(item, f"{prefix}[{label}]" if label else prefix, steps, i, out)
            return
        nid = value.get("archetype_node_id", "") if type(value) is dict else ""
        if want is not None:
            if nid != want:
                return
            path += seg
        else:
            path = f"{path}/{attr}[{nid}]" if nid else f"{path}/{attr}"
        node = value
    out.append((node, path))


def _below(node: Any, path: str, step: tuple[str, str | None, str], out: list[Any]) -> None:
    """``_every`` of ``**/attr[id]``: the ``attr[id]`` children of every descendant."""
    attr, want, seg = step
    for below, below_path in _descendants(node, path):
        if type(below) is not dict:
            continue
        value = below.get(attr, MISSING)
        if value is MISSING:
            continue
        if type(value) is list:
            count = 0
            for item in value:
                if (item.get("archetype_node_id", "") if type(item) is dict else "") == want:
                    count += 1
                    label = seg if count == 1 else f"/{attr}[{want}#{count}]"
                    out.append((item, below_path + label))
        elif (value.get("archetype_node_id", "") if type(value) is dict else "") == want:
            out.append((value, below_path + seg))


def _descendants(node: Any, path: str) -> list[Located]:
    """``paths._descendants``: the node and the nodes below it, as (node, path) pairs."""
    return descendants(Located(node, path))


def select_time(node: Any, path: str) -> datetime | None:
    """``first_time`` of a path ``select`` walks (``**``, invalid)."""
    for found in select(Located(node, ""), path):
        value = read_value(found.node) if isinstance(found.node, dict) else None
        if value is not None and value.when is not None:
            return value.when
    return None


def first_time(node: Any, steps: Steps, i: int = 0) -> datetime | None:
    """The first date/time value the path reaches from ``node`` (in ``select`` order)."""
    found = _first(node, steps, i, _time_of)
    return None if found is MISSING else found


class CompiledRule:
    """A rule with its paths compiled and its role resolved (once per rule).

    The truthiness tests of the declarative reading are kept: an empty ``each``,
    ``within`` or ``end`` is absent; an empty ``value``, ``concept`` or ``start`` is the
    node itself."""

    __slots__ = (
        "codes",
        "columns",
        "concept",
        "concept_steps",
        "constant",
        "each",
        "each_steps",
        "end",
        "end_steps",
        "fallback",
        "role",
        "rule",
        "start",
        "start_steps",
        "table",
        "type_concept_id",
        "units",
        "value",
        "value_steps",
        "visit",
        "within",
        "within_steps",
    )  # fmt: skip

    def __init__(self, rule: Rule, role: Any) -> None:
        self.rule = rule
        self.role = role
        self.table = rule.table
        self.visit = rule.table == "visit_occurrence"
        self.each = rule.each or None
        self.within = rule.within or None
        self.value = rule.value
        self.concept = rule.concept
        self.start = rule.start
        self.end = rule.end or None
        self.each_steps = every_steps_of(self.each) if self.each else None
        self.within_steps = every_steps_of(self.within) if self.within else None
        self.value_steps = steps_of(self.value) if self.value is not None else None
        self.concept_steps = steps_of(self.concept) if self.concept is not None else None
        self.start_steps = steps_of(self.start) if self.start is not None else None
        self.end_steps = steps_of(self.end) if self.end else None
        # dated by the node's own time (etc.) when ``start`` is absent or falls back
        self.fallback = rule.start is None or rule.start_fallback
        self.constant = (rule.concept_id or 0, 0, rule.source_value)
        self.type_concept_id = rule.type_concept_id
        self.codes = rule.codes
        self.units = rule.units
        self.columns = rule.columns


_COMPILED: dict[int, tuple[Mapping, tuple[CompiledRule, ...]]] = {}


def rules_of(mapping: Mapping, roles: dict[str, Any]) -> tuple[CompiledRule, ...]:
    """The compiled rules of a mapping (compiled on its first use)."""
    hit = _COMPILED.get(id(mapping))
    if hit is not None and hit[0] is mapping:
        return hit[1]
    if len(_COMPILED) >= 1024:  # mappings reloaded many times: forget the old ones
        _COMPILED.clear()
    rules = tuple(CompiledRule(rule, roles[rule.table]) for rule in mapping.rules)
    _COMPILED[id(mapping)] = (mapping, rules)  # the mapping is kept: its id is not reused
    return rules
