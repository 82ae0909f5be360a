"""FLAT documents ↔ the instance tree (the shape of the STRUCTURED format).

An instance is a dict: child node ids map to lists of instances, ``|suffix`` keys and the
bare key ``""`` hold values: ``a/b:1/c|magnitude`` is
``{"a": [{"b": [_, {"c": [{"|magnitude": ...}]}]}]}``.
"""

from __future__ import annotations

import functools
import re
from typing import Any

__all__ = ["FlatError", "from_structured", "parse_flat", "to_structured"]

Instance = dict[str, Any]
_SEGMENT = re.compile(r"^(?P<id>[^:|/]+)(?::(?P<index>\d+))?$")


class FlatError(ValueError):
    """Keys or values that cannot be placed; ``issues`` lists (key, reason) for each."""

    def __init__(self, issues: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{k}: {r}" for k, r in issues))
        self.issues = issues


def parse_flat(
    flat: Any,
) -> tuple[dict[str, Any], Instance, dict[int, str], list[tuple[str, str]]]:
    """(ctx values, root instance tree, id(instance) → its FLAT key prefix, the keys that
    cannot be read). The tree holds every readable key (an index gap is an empty
    instance), so that placing it reports the other faults too."""
    if not isinstance(flat, dict):
        raise FlatError([("", "a FLAT composition is a JSON object of path → value")])
    ctx: dict[str, Any] = {}
    root: Instance = {}
    keys: dict[int, str] = {}
    issues: list[tuple[str, str]] = []
    gaps: list[tuple[list[Any], str]] = []
    for key, value in flat.items():
        if key.startswith("ctx/"):
            ctx[key[4:]] = value
            continue
        if isinstance(value, dict | list):
            issues.append((key, "a FLAT value must be a string, number or boolean"))
            continue
        parsed = _parse_key(key)
        if isinstance(parsed, str):
            issues.append((key, parsed))
            continue
        steps, slot = parsed
        node = root
        for name, index, written in steps:
            lst = node.setdefault(name, [])
            if index > len(lst):
                gaps.append((lst, written))
            while len(lst) <= index:
                lst.append(None)
            if lst[index] is None:
                lst[index] = {}
                keys[id(lst[index])] = written
            node = lst[index]
        if slot in node:
            issues.append((key, "given twice"))
        node[slot] = value
    for lst, written in gaps:
        stem = written.rsplit(":", 1)[0]
        for i, item in enumerate(lst):
            if item is None:
                key = f"{stem}:{i}" if i or "/" in stem else stem
                issues.append((key, "index gap: no values for this index"))
                lst[i] = {}
                keys[id(lst[i])] = key
    return ctx, root, keys, issues


@functools.lru_cache(maxsize=65536)
def _parse_key(key: str) -> tuple[tuple[tuple[str, int, str], ...], str] | str:
    """((id, index, path as written so far)..., ``|suffix`` or ``""``), or why not."""
    path, _, suffix = key.partition("|")
    segments = path.split("/")
    steps = []
    for i, seg in enumerate(segments):
        m = _SEGMENT.match(seg)
        if not m:
            return f"malformed path segment {seg!r}"
        steps.append((m["id"], int(m["index"] or 0), "/".join(segments[: i + 1])))
    return tuple(steps), f"|{suffix}" if suffix else ""


def to_structured(tree: Instance) -> dict[str, Any]:
    """The STRUCTURED form: every node a list of instances; a leaf with only a bare value is
    that value."""

    def conv(inst: Instance) -> Any:
        keys = [k for k, v in inst.items() if v is not None]
        if keys == [""]:
            return inst[""]
        out: dict[str, Any] = {}
        for k in keys:
            v = inst[k]
            out[k] = v if (k == "" or k.startswith("|")) else [conv(c) for c in v]
        return out

    root = conv(tree)
    return {k: v[0] if isinstance(v, list) and len(v) == 1 else v for k, v in root.items()}


def from_structured(doc: Any) -> tuple[dict[str, Any], Instance]:
    """(ctx values, instance tree) of a STRUCTURED document."""
    if not isinstance(doc, dict):
        raise FlatError([("", "a STRUCTURED composition is a JSON object")])
    ctx: dict[str, Any] = {}
    issues: list[tuple[str, str]] = []

    def conv(value: Any, path: str) -> Instance:
        if not isinstance(value, dict):
            if isinstance(value, list):
                issues.append((path, "a list inside a list"))
                return {}
            return {"": value}
        out: Instance = {}
        for k, v in value.items():
            if k == "" or k.startswith("|"):
                out[k] = v
            else:
                items = v if isinstance(v, list) else [v]
                out[k] = [conv(x, f"{path}/{k}:{i}") for i, x in enumerate(items)]
        return out

    root: Instance = {}
    for key, value in doc.items():
        if key.startswith("ctx/"):  # FLAT-style ctx keys beside the tree (older EHRbase)
            ctx[key[4:]] = value
            continue
        if key == "ctx" and isinstance(value, dict):
            for ck, cv in value.items():
                for i, x in enumerate(cv if isinstance(cv, list) else [cv]):
                    key_i = f"{ck}:{i}" if i else ck
                    if isinstance(x, dict):  # {"health_care_facility": {"|name": ...}}
                        ctx.update({f"{key_i}{sub}": v for sub, v in x.items()})
                    else:
                        ctx[key_i] = x
            continue
        items = value if isinstance(value, list) else [value]
        root[key] = [conv(x, f"{key}:{i}") for i, x in enumerate(items)]
    if issues:
        raise FlatError(issues)
    return ctx, root
