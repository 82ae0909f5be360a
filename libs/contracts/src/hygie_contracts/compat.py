"""Compatibility of two JSON schemas of one event type within a major (ARCHITECTURE §4.4).

BACKWARD_TRANSITIVE, the Hygie way: a consumer built on the new schema reads every event
ever published under the old one, *and* consumers still on the old schema keep reading
new events. Within a major the only allowed changes are adding an optional property,
widening an enum, and annotations (title, description, default, examples). Anything else
(removal, required-ness, type, nullability, format, constraints, union branches,
``additionalProperties: false``) needs a new major type. The rules apply at every depth:
nested objects, ``$ref`` into ``$defs``, array items, map values and union branches.

Pure: two dicts in, a list of :class:`Incompatibility` out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

__all__ = ["Incompatibility", "incompatibilities"]

Schema = Mapping[str, Any]

_WHY = "BACKWARD_TRANSITIVE within a major"
_FIELDS_RULE = f"{_WHY}: fields may only be added, as optional"

#: Keywords that document a schema; changing them never breaks a reader.
_ANNOTATIONS = frozenset(
    {
        "$anchor",
        "$comment",
        "$defs",
        "$id",
        "$schema",
        "default",
        "deprecated",
        "description",
        "examples",
        "readOnly",
        "title",
        "writeOnly",
        "x-hygie",
    }
)
#: Validation keywords that narrow or widen accepted values: fixed within a major.
_CONSTRAINTS = (
    "contentEncoding",
    "contentMediaType",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "maxItems",
    "maxLength",
    "maxProperties",
    "maximum",
    "minItems",
    "minLength",
    "minProperties",
    "minimum",
    "multipleOf",
    "pattern",
    "uniqueItems",
)
#: Keywords compared structurally below; anything else must stay equal.
_HANDLED = frozenset(
    {
        *_ANNOTATIONS,
        *_CONSTRAINTS,
        "$ref",
        "additionalProperties",
        "allOf",
        "anyOf",
        "const",
        "discriminator",
        "enum",
        "format",
        "items",
        "oneOf",
        "prefixItems",
        "properties",
        "propertyNames",
        "required",
        "type",
    }
)
_KEYS: Schema = {"type": "string"}  # JSON object keys are strings
_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}


class Incompatibility(NamedTuple):
    """One broken rule: the event type, the field path (``''`` for the event) and the rule."""

    type: str
    path: str
    rule: str

    def __str__(self) -> str:
        where = f"field '{self.path}': " if self.path else ""
        return f"{self.type}: {where}{self.rule}"


def incompatibilities(
    old: Schema, new: Schema, *, event_type: str | None = None
) -> list[Incompatibility]:
    """Every change from ``old`` (committed) to ``new`` (generated) that breaks a reader."""
    if event_type is None:
        meta = new.get("x-hygie") or old.get("x-hygie") or {}
        event_type = str(meta.get("type") or new.get("title") or old.get("title") or "?")
    checker = _Checker(old_root=old, new_root=new)
    found = _root_rules(old, new) + checker.compare(old, new, "", frozenset())
    return [Incompatibility(event_type, path, rule) for path, rule in found]


Found = list[tuple[str, str]]


def _root_rules(old: Schema, new: Schema) -> Found:
    """The routing metadata of the event (``x-hygie``) is part of the contract."""
    old_meta, new_meta = old.get("x-hygie") or {}, new.get("x-hygie") or {}
    reasons = {
        "type": "the event type names the major",
        "major": "the event type names the major",
        "topic": "consumers subscribe to the old topic",
        "subject_field": "the record key, hence the per-key order, would change",
    }
    return [
        _broken(
            "",
            f"x-hygie {key} changed from {_show(old_meta[key])} to {_show(new_meta.get(key))}",
            reason,
        )
        for key, reason in reasons.items()
        if key in old_meta and old_meta[key] != new_meta.get(key)
    ]


class _Checker:
    """Walks the old and new schemas side by side, each resolving ``$ref`` in its own root."""

    def __init__(self, *, old_root: Schema, new_root: Schema) -> None:
        self.old_root = old_root
        self.new_root = new_root

    def compare(
        self, old: Schema, new: Schema, path: str, seen: frozenset[tuple[str, str]]
    ) -> Found:
        # resolve, take null out (``X | None`` is ``anyOf: [{$ref: X}, {type: null}]``), resolve
        old_null, old, old_ref = _split_null_resolved(old, self.old_root)
        new_null, new, new_ref = _split_null_resolved(new, self.new_root)
        if old_ref or new_ref:
            pair = (old_ref or "", new_ref or "")
            if pair in seen:  # a recursive model: this pair is already being compared above
                return []
            seen = seen | {pair}
        found: Found = []
        if old_null and not new_null:
            found.append(_broken(path, "made non-nullable", "old events may hold null"))
        elif new_null and not old_null:
            found.append(_broken(path, "made nullable", "old consumers cannot read null"))
        old_union, new_union = _union(old), _union(new)
        if old_union or new_union:
            found += _other_keywords(old, new, path)
            keyword = new_union[0] if new_union else old_union[0] if old_union else ""
            old_branches = old_union[1] if old_union else [old]
            new_branches = new_union[1] if new_union else [new]
            if not (old_union and new_union) and len(old_branches) == len(new_branches) == 1:
                # ``anyOf: [X]`` against a plain ``X``
                return found + self.compare(old_branches[0], new_branches[0], path, seen)
            return found + self._branches(old_branches, new_branches, path, seen, keyword)
        return found + self._single(old, new, path, seen)

    def _single(
        self, old: Schema, new: Schema, path: str, seen: frozenset[tuple[str, str]]
    ) -> Found:
        old_types, new_types = _types(old), _types(new)
        if old_types != new_types:
            what = f"type changed from {_show_types(old_types)} to {_show_types(new_types)}"
            return [_broken(path, what, "types are fixed")]
        found: Found = []
        if old.get("format") != new.get("format"):
            what = f"format changed from {_show(old.get('format'))} to {_show(new.get('format'))}"
            found.append(_broken(path, what, "formats are fixed"))
        found += _enum_rules(old, new, path)
        for keyword in _CONSTRAINTS:
            if old.get(keyword) != new.get(keyword):
                what = (
                    f"constraint {keyword} changed from {_show(old.get(keyword))} "
                    f"to {_show(new.get(keyword))}"
                )
                found.append(_broken(path, what, "constraints are fixed"))
        found += self._object(old, new, path, seen)
        found += self._array(old, new, path, seen)
        return found + _other_keywords(old, new, path)

    def _object(
        self, old: Schema, new: Schema, path: str, seen: frozenset[tuple[str, str]]
    ) -> Found:
        found: Found = []
        old_props: Mapping[str, Any] = old.get("properties") or {}
        new_props: Mapping[str, Any] = new.get("properties") or {}
        old_req, new_req = set(old.get("required") or ()), set(new.get("required") or ())
        old_extra, new_extra = _extra(old), _extra(new)
        for name, old_prop in old_props.items():
            where = _join(path, name)
            if name not in new_props:
                found.append((where, f"removed ({_FIELDS_RULE})"))
                continue
            if name in new_req and name not in old_req:
                found.append((where, f"made required ({_FIELDS_RULE}; old events may lack it)"))
            elif name in old_req and name not in new_req:
                found.append(_broken(where, "made optional", "old consumers require it"))
            found += self.compare(old_prop, new_props[name], where, seen)
        for name in new_props.keys() - old_props.keys():
            where = _join(path, name)
            if name in new_req:
                found.append((where, f"added as required ({_FIELDS_RULE}; old events lack it)"))
            elif old_extra is False:
                why = "additionalProperties is false, old consumers reject it"
                found.append(_broken(where, "added to a closed object", why))
        if new_extra is False and old_extra is not False:
            why = "old events and fields added later would be rejected"
            found.append(_broken(path, "additionalProperties changed to false", why))
        elif isinstance(old_extra, Mapping) and isinstance(new_extra, Mapping):
            found += self.compare(old_extra, new_extra, _join(path, "*"), seen)
        elif isinstance(old_extra, Mapping) or isinstance(new_extra, Mapping):
            what = f"additionalProperties changed from {_show(old_extra)} to {_show(new_extra)}"
            found.append(_broken(path, what, "map values are fixed"))
        if "propertyNames" in old or "propertyNames" in new:
            found += self.compare(
                old.get("propertyNames") or _KEYS,
                new.get("propertyNames") or _KEYS,
                _join(path, "<key>"),
                seen,
            )
        return found

    def _array(
        self, old: Schema, new: Schema, path: str, seen: frozenset[tuple[str, str]]
    ) -> Found:
        found: Found = []
        if "items" in old or "items" in new:
            found += self.compare(_items(old), _items(new), f"{path}[]", seen)
        old_tuple: Sequence[Schema] = old.get("prefixItems") or ()
        new_tuple: Sequence[Schema] = new.get("prefixItems") or ()
        if len(old_tuple) != len(new_tuple):
            what = f"tuple length changed from {len(old_tuple)} to {len(new_tuple)}"
            found.append(_broken(path, what, "types are fixed"))
        for index, (old_item, new_item) in enumerate(zip(old_tuple, new_tuple, strict=False)):
            found += self.compare(old_item, new_item, f"{path}[{index}]", seen)
        return found

    def _branches(
        self,
        old: Sequence[Schema],
        new: Sequence[Schema],
        path: str,
        seen: frozenset[tuple[str, str]],
        keyword: str,
    ) -> Found:
        """Pair each old union branch with an unchanged new one, then the rest by position."""
        unmatched_new = list(range(len(new)))
        unmatched_old: list[int] = []
        for i, old_branch in enumerate(old):
            for j in unmatched_new:
                if not self.compare(old_branch, new[j], path, seen):
                    unmatched_new.remove(j)
                    break
            else:
                unmatched_old.append(i)
        found: Found = []
        for i, j in zip(unmatched_old, unmatched_new, strict=False):
            found += self.compare(old[i], new[j], path, seen)
        for i in unmatched_old[len(unmatched_new) :]:
            what = f"{keyword} branch {_name(old[i], self.old_root)} removed"
            found.append(_broken(path, what, "old events may hold it"))
        for j in unmatched_new[len(unmatched_old) :]:
            what = f"{keyword} branch {_name(new[j], self.new_root)} added"
            found.append(_broken(path, what, "old consumers cannot read it"))
        return found


def _resolve(schema: Schema, root: Schema) -> tuple[Schema, str | None]:
    """Follow ``$ref`` (and a lone ``allOf`` wrapper) to the schema it names."""
    ref_name: str | None = None
    for _ in range(64):
        if "$ref" in schema:
            ref = str(schema["$ref"])
            ref_name = ref
            target = _pointer(root, ref)
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **siblings}
        elif isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1:
            siblings = {k: v for k, v in schema.items() if k != "allOf"}
            schema = {**schema["allOf"][0], **siblings}
        else:
            return schema, ref_name
    raise ValueError(f"$ref chain too long at {ref_name}")


def _pointer(root: Schema, ref: str) -> Schema:
    if not ref.startswith("#"):
        raise ValueError(f"only local $ref are supported, got {ref!r}")
    node: Any = root
    for part in ref[1:].split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or part not in node:
            raise ValueError(f"unresolvable $ref {ref!r}")
        node = node[part]
    if not isinstance(node, Mapping):
        raise ValueError(f"$ref {ref!r} does not name a schema")
    return node


def _split_null_resolved(schema: Schema, root: Schema) -> tuple[bool, Schema, str | None]:
    schema, ref = _resolve(schema, root)
    nullable, schema = _split_null(schema)
    schema, inner_ref = _resolve(schema, root)
    return nullable, schema, inner_ref or ref


def _union(schema: Schema) -> tuple[str, Sequence[Schema]] | None:
    """The branches of a union (``anyOf``, ``oneOf`` or a multi-part ``allOf``), if any."""
    for keyword in ("anyOf", "oneOf", "allOf"):
        branches = schema.get(keyword)
        if isinstance(branches, list) and branches:
            return keyword, branches
    return None


def _is_null(schema: Schema) -> bool:
    return schema.get("type") == "null" and not (set(schema) - _ANNOTATIONS - {"type"})


def _split_null(schema: Schema) -> tuple[bool, Schema]:
    """Whether ``schema`` also accepts null, and the schema of its non-null values."""
    kind = schema.get("type")
    if isinstance(kind, list) and "null" in kind and len(kind) > 1:
        rest = [t for t in kind if t != "null"]
        return True, {**schema, "type": rest[0] if len(rest) == 1 else rest}
    enum = schema.get("enum")
    if isinstance(enum, list) and None in enum and len(enum) > 1:
        return True, {**schema, "enum": [v for v in enum if v is not None]}
    for keyword in ("anyOf", "oneOf"):
        branches = schema.get(keyword)
        if isinstance(branches, list) and len(branches) > 1 and any(map(_is_null, branches)):
            rest = [b for b in branches if not _is_null(b)]
            siblings = {k: v for k, v in schema.items() if k != keyword}
            if len(rest) == 1:
                return True, {**rest[0], **siblings}
            return True, {**siblings, keyword: rest}
    return False, schema


def _types(schema: Schema) -> frozenset[str] | None:
    """The JSON types a schema admits, or None for any (inferred from enum/const if untyped)."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return frozenset({kind})
    if isinstance(kind, list):
        return frozenset(map(str, kind))
    values = _enum(schema)
    if values is not None:
        found: set[str] = set()
        for value in values.values():
            if value is None:
                found.add("null")
            elif isinstance(value, Mapping):
                found.add("object")
            elif isinstance(value, list):
                found.add("array")
            else:
                found.add(_JSON_TYPES.get(type(value), "string"))
        return frozenset(found)
    return None


def _enum(schema: Schema) -> dict[str, Any] | None:
    """The allowed values (``enum`` or ``const``) keyed by their JSON text, or None."""
    if "const" in schema:
        values: Iterable[Any] = [schema["const"]]
    elif isinstance(schema.get("enum"), list):
        values = schema["enum"]
    else:
        return None
    return {json.dumps(v, sort_keys=True): v for v in values}


def _enum_rules(old: Schema, new: Schema, path: str) -> Found:
    old_values, new_values = _enum(old), _enum(new)
    if new_values is None:  # no enum, or an enum widened to any value of its type
        return []
    if old_values is None:
        what = f"narrowed to an enum of {', '.join(sorted(new_values))}"
        return [_broken(path, what, "old events may hold any value")]
    removed = sorted(old_values.keys() - new_values.keys())
    if removed:
        what = f"enum narrowed, values {', '.join(removed)} removed"
        return [_broken(path, what, "old events may hold them; enums may only be widened")]
    return []


def _other_keywords(old: Schema, new: Schema, path: str) -> Found:
    """The discriminator, then any keyword not compared structurally: it must stay equal."""
    found: Found = []
    if "discriminator" in old or "discriminator" in new:
        found += _discriminator_rules(old.get("discriminator"), new.get("discriminator"), path)
    for keyword in sorted((set(old) | set(new)) - _HANDLED):
        if old.get(keyword) != new.get(keyword):
            why = "only optional properties, enum values and annotations may be added"
            found.append(_broken(path, f"{keyword} changed", why))
    return found


def _discriminator_rules(old: Any, new: Any, path: str) -> Found:
    old_name = old.get("propertyName") if isinstance(old, Mapping) else None
    new_name = new.get("propertyName") if isinstance(new, Mapping) else None
    if old_name != new_name:
        what = f"discriminator changed from {_show(old_name)} to {_show(new_name)}"
        return [_broken(path, what, "types are fixed")]
    return []


def _extra(schema: Schema) -> bool | Schema:
    """``additionalProperties``: True (open), False (closed) or the schema of map values."""
    value = schema.get("additionalProperties", True)
    if isinstance(value, Mapping):
        return value if value else True
    return bool(value)


def _items(schema: Schema) -> Schema:
    value = schema.get("items", {})
    return value if isinstance(value, Mapping) else {}


def _broken(path: str, what: str, why: str) -> tuple[str, str]:
    """A broken rule at ``path``: what changed, and why a reader would fail."""
    return path, f"{what} ({_WHY}: {why})"


def _name(branch: Schema, root: Schema) -> str:
    """A union branch as people call it: its model name, else its JSON type."""
    if "$ref" in branch:
        return repr(str(branch["$ref"]).rsplit("/", 1)[-1])
    return _show_types(_types(_resolve(branch, root)[0]))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, Mapping):
        return "a schema"
    return repr(value) if isinstance(value, str) else json.dumps(value)


def _show_types(types: frozenset[str] | None) -> str:
    return "any" if types is None else repr(" | ".join(sorted(types)))
