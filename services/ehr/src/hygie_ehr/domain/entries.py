"""Decomposition of a composition into its archetype-rooted nodes (for AQL ``CONTAINS``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ArchetypedNode", "archetyped_nodes"]

#: JSON keys never holding archetyped content
_SKIP = {
    "name",
    "archetype_details",
    "language",
    "territory",
    "category",
    "composer",
    "encoding",
    "subject",
    "provider",
    "uid",
    "feeder_audit",
    "links",
    "_type",
    "archetype_node_id",
}


@dataclass(frozen=True, slots=True)
class ArchetypedNode:
    """One archetype root: its archetype id, RM type, AQL path and location in the JSON."""

    archetype_id: str
    rm_type: str
    path: str
    json_path: tuple[str, ...]


def archetyped_nodes(composition: dict[str, Any]) -> list[ArchetypedNode]:
    """Every node whose ``archetype_node_id`` is an archetype id, root first, in order."""
    out: list[ArchetypedNode] = []
    root_id = composition.get("archetype_node_id") or ""
    out.append(ArchetypedNode(root_id, composition.get("_type") or "COMPOSITION", "/", ()))
    _walk(composition, "", (), out)
    return out


def _walk(
    node: dict[str, Any], path: str, json_path: tuple[str, ...], out: list[ArchetypedNode]
) -> None:
    for key, value in node.items():
        if key in _SKIP:
            continue
        if isinstance(value, dict):
            _visit(value, path, key, (*json_path, key), out)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    _visit(item, path, key, (*json_path, key, str(i)), out)


def _visit(
    item: dict[str, Any], path: str, key: str, json_path: tuple[str, ...], out: list[ArchetypedNode]
) -> None:
    node_id = item.get("archetype_node_id")
    step = f"{path}/{key}" + (f"[{node_id}]" if isinstance(node_id, str) else "")
    if isinstance(node_id, str) and node_id.startswith("openEHR-"):
        out.append(ArchetypedNode(node_id, item.get("_type") or "", step, json_path))
    _walk(item, step, json_path, out)
