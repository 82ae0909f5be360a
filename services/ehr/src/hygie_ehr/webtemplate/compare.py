"""Field-by-field comparison of two web templates (ours against a reference one).

Every field of every node is compared (``children`` excepted: the nodes are compared
one by one, matched by their id path), ``inputs`` as a whole: suffixes, types, lists
with labels, descriptions and current states, validations, terminologies, defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Comparison", "compare_web_templates"]


@dataclass(slots=True)
class Comparison:
    matched: int = 0
    total: int = 0
    differences: list[str] = field(default_factory=list)
    #: (node path, field, expected value, our value) of each differing field
    fields: list[tuple[str, str, Any, Any]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.matched / self.total if self.total else 1.0


def _index(node: dict[str, Any], parent: str, out: dict[str, dict[str, Any]]) -> None:
    path = f"{parent}/{node['id']}"
    out[path] = node
    for child in node.get("children", []):
        _index(child, path, out)


def compare_web_templates(expected: dict[str, Any], actual: dict[str, Any]) -> Comparison:
    """Every field of every node (by id path) of both trees checked; a node only one side
    has counts as one difference per field it has."""
    exp: dict[str, dict[str, Any]] = {}
    act: dict[str, dict[str, Any]] = {}
    _index(expected["tree"], "", exp)
    _index(actual["tree"], "", act)
    out = Comparison()
    for path, e in exp.items():
        a = act.get(path)
        if a is None:
            out.total += len(e) - ("children" in e)
            out.differences.append(f"{path}: missing")
            continue
        for name in sorted((set(e) | set(a)) - {"children"}):
            out.total += 1
            if e.get(name) == a.get(name):
                out.matched += 1
            else:
                out.differences.append(f"{path}: {name} {e.get(name)!r} != {a.get(name)!r}")
                out.fields.append((path, name, e.get(name), a.get(name)))
    for path, a in act.items():
        if path not in exp:
            out.total += len(a) - ("children" in a)
            out.differences.append(f"{path}: not expected")
    return out
