"""Field-by-field comparison of two web templates (ours against a reference one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Comparison", "compare_web_templates"]

FIELDS = (
    "name",
    "localizedName",
    "rmType",
    "nodeId",
    "min",
    "max",
    "aqlPath",
    "inContext",
    "localizedNames",
    "localizedDescriptions",
)


@dataclass(slots=True)
class Comparison:
    matched: int = 0
    total: int = 0
    differences: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.matched / self.total if self.total else 1.0


def _index(node: dict[str, Any], parent: str, out: dict[str, dict[str, Any]]) -> None:
    path = f"{parent}/{node['id']}"
    out[path] = node
    for child in node.get("children", []):
        _index(child, path, out)


def _inputs(node: dict[str, Any]) -> list[tuple[str, str, int]]:
    return sorted(
        (i.get("suffix", ""), i.get("type", ""), len(i.get("list", [])))
        for i in node.get("inputs", [])
    )


def compare_web_templates(expected: dict[str, Any], actual: dict[str, Any]) -> Comparison:
    """Every field of every expected node (by id path), plus its inputs, checked."""
    exp: dict[str, dict[str, Any]] = {}
    act: dict[str, dict[str, Any]] = {}
    _index(expected["tree"], "", exp)
    _index(actual["tree"], "", act)
    out = Comparison()
    for path, e in exp.items():
        a = act.get(path)
        out.total += len(FIELDS) + 1
        if a is None:
            out.differences.append(f"{path}: missing")
            continue
        for name in FIELDS:
            if e.get(name) == a.get(name):
                out.matched += 1
            else:
                out.differences.append(f"{path}: {name} {e.get(name)!r} != {a.get(name)!r}")
        if _inputs(e) == _inputs(a):
            out.matched += 1
        else:
            out.differences.append(f"{path}: inputs {_inputs(e)} != {_inputs(a)}")
    out.differences.extend(f"{p}: not expected" for p in act if p not in exp)
    return out
