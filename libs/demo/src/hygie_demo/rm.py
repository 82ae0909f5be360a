"""Canonical JSON of the openEHR reference model, as a client writes it (small helpers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = [
    "archetyped",
    "cluster",
    "coded",
    "composition",
    "date_time",
    "element",
    "entry_common",
    "proportion",
    "quantity",
    "text",
    "tree",
]

Json = dict[str, Any]


def text(value: str) -> Json:
    return {"_type": "DV_TEXT", "value": value}


def coded(value: str, terminology: str, code: str) -> Json:
    return {
        "_type": "DV_CODED_TEXT",
        "value": value,
        "defining_code": {
            "_type": "CODE_PHRASE",
            "terminology_id": {"_type": "TERMINOLOGY_ID", "value": terminology},
            "code_string": code,
        },
    }


def quantity(magnitude: float, units: str) -> Json:
    return {"_type": "DV_QUANTITY", "magnitude": magnitude, "units": units}


def proportion(percent: float) -> Json:
    return {"_type": "DV_PROPORTION", "numerator": percent, "denominator": 100.0, "type": 2}


def date_time(value: datetime) -> Json:
    return {"_type": "DV_DATE_TIME", "value": value.isoformat()}


def element(code: str, name: str, value: Json) -> Json:
    return {"_type": "ELEMENT", "name": text(name), "archetype_node_id": code, "value": value}


def cluster(node_id: str, name: str, items: list[Json], *, archetype: bool = False) -> Json:
    out: Json = {"_type": "CLUSTER", "name": text(name), "archetype_node_id": node_id}
    if archetype:
        out["archetype_details"] = archetyped(node_id)
    out["items"] = items
    return out


def tree(code: str, name: str, items: list[Json]) -> Json:
    return {"_type": "ITEM_TREE", "name": text(name), "archetype_node_id": code, "items": items}


def archetyped(archetype_id: str, template_id: str | None = None) -> Json:
    out: Json = {
        "_type": "ARCHETYPED",
        "archetype_id": {"_type": "ARCHETYPE_ID", "value": archetype_id},
        "rm_version": "1.0.4",
    }
    if template_id:
        out["template_id"] = {"_type": "TEMPLATE_ID", "value": template_id}
    return out


def entry_common(rm_type: str, archetype_id: str, name: str) -> Json:
    """The attributes every ENTRY carries (language, encoding, subject = the EHR's)."""
    return {
        "_type": rm_type,
        "name": text(name),
        "archetype_node_id": archetype_id,
        "archetype_details": archetyped(archetype_id),
        "language": _code("ISO_639-1", "fr"),
        "encoding": _code("IANA_character-sets", "UTF-8"),
        "subject": {"_type": "PARTY_SELF"},
    }


def _code(terminology: str, code: str) -> Json:
    return {
        "_type": "CODE_PHRASE",
        "terminology_id": {"_type": "TERMINOLOGY_ID", "value": terminology},
        "code_string": code,
    }


_SETTINGS = {"227": "emergency care", "232": "secondary medical care", "238": "other care"}
_CATEGORIES = {"433": "event", "431": "persistent"}


def composition(
    *,
    uid: str,
    archetype_id: str,
    template_id: str,
    name: str,
    composer: str,
    start: datetime,
    content: list[Json],
    end: datetime | None = None,
    setting: str = "232",
    category: str = "433",
    facility: str | None = None,
) -> Json:
    """A COMPOSITION with a client-chosen uid (idempotent re-runs) and its context."""
    context: Json = {
        "_type": "EVENT_CONTEXT",
        "start_time": date_time(start),
        "setting": coded(_SETTINGS[setting], "openehr", setting),
    }
    if end is not None:
        context["end_time"] = date_time(end)
    if facility:
        context["health_care_facility"] = {"_type": "PARTY_IDENTIFIED", "name": facility}
    return {
        "_type": "COMPOSITION",
        "name": text(name),
        "uid": {"_type": "HIER_OBJECT_ID", "value": uid},
        "archetype_details": archetyped(archetype_id, template_id),
        "archetype_node_id": archetype_id,
        "language": _code("ISO_639-1", "fr"),
        "territory": _code("ISO_3166-1", "FR"),
        "category": coded(_CATEGORIES[category], "openehr", category),
        "composer": {"_type": "PARTY_IDENTIFIED", "name": composer},
        "context": context,
        "content": content,
    }
