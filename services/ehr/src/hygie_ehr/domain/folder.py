"""The EHR directory: a FOLDER tree whose items are OBJECT_REFs to versioned compositions.

``read_folder`` checks a canonical FOLDER body; ``folder_nodes`` flattens a tree into
pre-order nodes (nested-set numbering: node ``n`` contains node ``m`` iff
``n.ord <= m.ord <= n.last_ord``) with the items each node holds, so that AQL
``FOLDER f CONTAINS COMPOSITION c`` is a range join rather than a walk of the JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from .rm import UnknownRmType, check_known_types

__all__ = [
    "FolderItem",
    "FolderNode",
    "InvalidFolder",
    "folder_nodes",
    "read_folder",
    "sub_folder",
]

#: beyond this depth a directory is refused (bounded recursion)
MAX_FOLDER_DEPTH = 32


class InvalidFolder(ValueError):
    """A FOLDER body that cannot be accepted (the message names the path)."""


@dataclass(frozen=True, slots=True)
class FolderItem:
    """One OBJECT_REF of a folder's ``items``."""

    pos: int
    item_id: str
    """``id.value`` as given: a versioned object id or a version uid"""
    composition_id: UUID | None
    """the object id part when it is a UUID (what AQL joins on)"""
    item_version: int | None
    namespace: str | None
    type: str | None


@dataclass(frozen=True, slots=True)
class FolderNode:
    """One FOLDER of the tree, numbered in pre-order."""

    ord: int
    last_ord: int
    parent_ord: int | None
    depth: int
    name: str
    archetype_node_id: str | None
    uid: str | None
    path: str
    """folder names from the root, ``/`` for the root itself (ITS-REST ``path``)"""
    json_path: tuple[str, ...]
    """where the node is in the directory's JSON (``folders,0,folders,2``)"""
    items: tuple[FolderItem, ...]


def _name(folder: dict[str, Any]) -> str | None:
    name = folder.get("name")
    value = name.get("value") if isinstance(name, dict) else None
    return value if isinstance(value, str) and value else None


def _check(folder: Any, where: str, depth: int) -> None:
    if depth > MAX_FOLDER_DEPTH:
        raise InvalidFolder(f"{where}: folders nested deeper than {MAX_FOLDER_DEPTH} levels")
    if not isinstance(folder, dict):
        raise InvalidFolder(f"{where or '/'}: a FOLDER object is expected")
    if folder.get("_type", "FOLDER") != "FOLDER":
        raise InvalidFolder(f"{where}/_type: expected FOLDER, got {folder.get('_type')}")
    if _name(folder) is None:
        raise InvalidFolder(f"{where}/name/value: a folder needs a name")
    if not isinstance(folder.get("archetype_node_id"), str) or not folder["archetype_node_id"]:
        raise InvalidFolder(f"{where}/archetype_node_id: missing or empty")
    items = folder.get("items", [])
    if not isinstance(items, list):
        raise InvalidFolder(f"{where}/items: must be a list of OBJECT_REF")
    for i, item in enumerate(items):
        ref = item.get("id") if isinstance(item, dict) else None
        value = ref.get("value") if isinstance(ref, dict) else None
        if not isinstance(value, str) or not value.strip():
            raise InvalidFolder(f"{where}/items[{i}]/id/value: an OBJECT_REF id is required")
    children = folder.get("folders", [])
    if not isinstance(children, list):
        raise InvalidFolder(f"{where}/folders: must be a list of FOLDER")
    names = [_name(c) for c in children if isinstance(c, dict)]
    if len(set(names)) != len(names):
        raise InvalidFolder(f"{where}/folders: sibling folders must have distinct names")
    for i, child in enumerate(children):
        _check(child, f"{where}/folders[{i}]", depth + 1)


def read_folder(body: Any) -> dict[str, Any]:
    """Check a canonical FOLDER (the directory root); the server sets its ``uid``."""
    try:
        check_known_types(body)
    except UnknownRmType as exc:
        raise InvalidFolder(str(exc)) from None
    _check(body, "", 1)
    return dict(body)


def _item(pos: int, item: dict[str, Any]) -> FolderItem:
    value = str(item["id"]["value"]).strip()
    object_id, version = value, None
    if "::" in value:
        parts = value.split("::")
        object_id = parts[0]
        if len(parts) == 3 and parts[2].isdigit():
            version = int(parts[2])
    try:
        composition_id: UUID | None = UUID(object_id)
    except ValueError:
        composition_id = None
    return FolderItem(
        pos=pos,
        item_id=value,
        composition_id=composition_id,
        item_version=version,
        namespace=item.get("namespace") if isinstance(item.get("namespace"), str) else None,
        type=item.get("type") if isinstance(item.get("type"), str) else None,
    )


def folder_nodes(root: dict[str, Any]) -> list[FolderNode]:
    """Every folder of a (checked) tree in pre-order, with nested-set bounds."""
    out: list[FolderNode] = []

    def walk(
        folder: dict[str, Any], parent: int | None, depth: int, path: str, loc: tuple[str, ...]
    ) -> int:
        ord_ = len(out)
        out.append(None)  # type: ignore[arg-type]  # placeholder until last_ord is known
        last = ord_
        for i, child in enumerate(folder.get("folders") or []):
            name = _name(child) or ""
            child_path = f"{path.rstrip('/')}/{name}"
            last = walk(child, ord_, depth + 1, child_path, (*loc, "folders", str(i)))
        uid = folder.get("uid")
        out[ord_] = FolderNode(
            ord=ord_,
            last_ord=last,
            parent_ord=parent,
            depth=depth,
            name=_name(folder) or "",
            archetype_node_id=folder.get("archetype_node_id"),
            uid=uid.get("value") if isinstance(uid, dict) else None,
            path=path,
            json_path=loc,
            items=tuple(_item(i, it) for i, it in enumerate(folder.get("items") or [])),
        )
        return last

    walk(root, None, 0, "/", ())
    return out


def sub_folder(root: dict[str, Any], path: str | None) -> dict[str, Any] | None:
    """The folder at ``path`` (folder names separated by ``/``, from below the root; the
    root's own name may lead); ``None`` when there is none."""
    parts = [p for p in (path or "").split("/") if p]
    if (
        parts
        and parts[0] == _name(root)
        and not any(_name(c) == parts[0] for c in root.get("folders") or [])
    ):
        parts = parts[1:]
    folder = root
    for part in parts:
        found = next((c for c in folder.get("folders") or [] if _name(c) == part), None)
        if found is None:
            return None
        folder = found
    return folder
