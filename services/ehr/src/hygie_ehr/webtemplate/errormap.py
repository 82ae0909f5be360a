"""Template validation issues of a converted composition, named by the FLAT keys that
placed the offending data (the canonical path stays in the reason)."""

from __future__ import annotations

import re
from typing import Any

from ..domain.validation import ValidationIssue
from .model import WebNode

__all__ = ["flat_issues"]

Placed = dict[int, tuple[str, WebNode]]
_LAST = re.compile(r"/(?P<attr>[a-z_]+)(?:\[(?P<id>[^\]]+)\])?$")


def _parents(data: Any) -> dict[int, Any]:
    """id(object) -> its parent object, for every dict in the instance."""
    out: dict[int, Any] = {}
    stack = [data]
    while stack:
        obj = stack.pop()
        children = obj.values() if isinstance(obj, dict) else obj
        for v in children:
            if isinstance(v, dict):
                out[id(v)] = obj if isinstance(obj, dict) else out.get(id(obj))
                stack.append(v)
            elif isinstance(v, list):
                out[id(v)] = obj
                stack.append(v)
    return out


def _child_key(key: str, child: WebNode) -> str:
    return f"{key}/{child.id}" + (":0" if child.max != 1 else "")


def _missing_child(node: WebNode, path: str, key: str) -> str | None:
    """The FLAT key of the node a ``... occurs 0 times`` / ``... is mandatory`` issue asks
    for, found among the descendants of the node that placed the parent."""
    m = _LAST.search(path)
    if m is None:
        return None
    wanted = m["id"]
    todo = [(c, _child_key(key, c)) for c in node.children]
    depth = 0
    while todo and depth < 4:
        nxt = []
        for child, child_key in todo:
            ids = {s.node_id for s in child.steps}
            attrs = {s.attr for s in child.steps}
            if (wanted and wanted in ids) or (not wanted and child.id == m["attr"]):
                return child_key
            if not wanted and m["attr"] in attrs and child.node_id is None:
                return child_key
            nxt.extend((g, _child_key(child_key, g)) for g in child.children)
        todo, depth = nxt, depth + 1
    return None


#: the last RM attribute of an issue's path inside a data value -> its FLAT suffix
_SUFFIX = {
    "code_string": "code",
    "terminology_id": "terminology",
    "units": "unit",
    "magnitude": "magnitude",
    "numerator": "numerator",
    "denominator": "denominator",
    "precision": "precision",
    "formalism": "formalism",
    "issuer": "issuer",
    "assigner": "assigner",
    "type": "type",
    "id": "id",
}


def _suffix(node: WebNode, path: str) -> str:
    """``|unit``... when the issue is about one suffix of a leaf's value."""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    suffix = _SUFFIX.get(last)
    if suffix and any(i.get("suffix") == suffix for i in node.inputs):
        return f"|{suffix}"
    return ""


def flat_issues(
    data: dict[str, Any], issues: list[ValidationIssue], placed: Placed, root_key: str
) -> list[tuple[str, str]]:
    """(FLAT key, reason) for each validation issue: the key of the nearest placed object
    (or of the missing node the issue names), the reason with the canonical path."""
    parents = _parents(data)
    out: list[tuple[str, str]] = []
    for issue in issues:
        obj_id = issue.at
        seen = 0
        while obj_id not in placed and obj_id in parents and seen < 64:
            parent = parents[obj_id]
            obj_id = id(parent)
            seen += 1
        key, node = placed.get(obj_id, (root_key, None))
        if node is not None and ("occurs 0 times" in issue.message or "mandatory" in issue.message):
            key = _missing_child(node, issue.path, key) or key
        elif node is not None and node.inputs and "|" not in key:
            key += _suffix(node, issue.path)
        out.append((key, f"{issue.message} (canonical path {issue.path})"))
    return out
