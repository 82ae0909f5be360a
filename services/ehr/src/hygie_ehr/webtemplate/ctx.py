"""``ctx/...`` keys and the defaults the FLAT format fills (language, territory, encoding,
category, composer, subject PARTY_SELF, times, setting)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..domain.opt import OperationalTemplate
from .rmattrs import _participation, _party
from .terminology import openehr_rubric

__all__ = ["CTX_KEYS", "apply_defaults"]

Issues = list[tuple[str, str]]
CTX_KEYS = {
    "language",
    "territory",
    "encoding",
    "composer_name",
    "composer_id",
    "composer_self",
    "id_scheme",
    "id_namespace",
    "time",
    "end_time",
    "setting",
    "location",
    "health_care_facility|id",
    "health_care_facility|name",
    "health_care_facility|id_scheme",
    "health_care_facility|id_namespace",
}
_PARTICIPATION = (
    "participation_name",
    "participation_function",
    "participation_mode",
    "participation_id",
)


def _code(term: str, code: str) -> dict[str, Any]:
    return {
        "_type": "CODE_PHRASE",
        "terminology_id": {"_type": "TERMINOLOGY_ID", "value": term},
        "code_string": code,
    }


def _coded(value: str, term: str, code: str) -> dict[str, Any]:
    return {"_type": "DV_CODED_TEXT", "value": value, "defining_code": _code(term, code)}


def _participations(ctx: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    i = 0
    while True:
        suffix = f":{i}" if i else ""
        values = {p: ctx.get(p + suffix, ctx.get(f"{p}:{i}")) for p in _PARTICIPATION}
        if all(v is None for v in values.values()):
            break
        spec = {
            "|function": values["participation_function"] or "unknown",
            "|name": values["participation_name"],
            "|mode": values["participation_mode"],
            "|id": values["participation_id"],
            "|id_scheme": ctx.get("id_scheme"),
            "|id_namespace": ctx.get("id_namespace"),
        }
        out.append(_participation({k: v for k, v in spec.items() if v is not None}))
        i += 1
    return out


def apply_defaults(
    data: dict[str, Any], ctx: dict[str, Any], opt: OperationalTemplate, issues: Issues
) -> None:
    """Fill what the FLAT format fills from ``ctx`` or by default; report unknown ctx keys."""
    for key in ctx:
        base = key.split(":")[0]
        if key not in CTX_KEYS and base not in _PARTICIPATION:
            issues.append((f"ctx/{key}", "unknown ctx key"))
    now = datetime.now(UTC).isoformat()
    time = str(ctx.get("time") or now)
    language = _code("ISO_639-1", str(ctx.get("language") or opt.language or "en"))
    encoding = _code("IANA_character-sets", str(ctx.get("encoding") or "UTF-8"))
    data.setdefault("language", language)
    if "territory" not in data and ctx.get("territory"):
        data["territory"] = _code("ISO_3166-1", str(ctx["territory"]))
    if "composer" not in data:
        if ctx.get("composer_name") or ctx.get("composer_id"):
            data["composer"] = _party(
                {
                    k: v
                    for k, v in {
                        "|name": ctx.get("composer_name"),
                        "|id": ctx.get("composer_id"),
                        "|id_scheme": ctx.get("id_scheme"),
                        "|id_namespace": ctx.get("id_namespace"),
                    }.items()
                    if v is not None
                }
            )
        elif ctx.get("composer_self") in (True, "true"):
            data["composer"] = {"_type": "PARTY_SELF"}
    if "category" not in data:
        code = _template_category(opt)
        data["category"] = _coded(openehr_rubric(code) or code, "openehr", code)
    context = data.get("context")
    if context is None and _has_context(opt):
        context = data["context"] = {"_type": "EVENT_CONTEXT"}
    if context is not None:
        context.setdefault("start_time", {"_type": "DV_DATE_TIME", "value": time})
        if "end_time" not in context and ctx.get("end_time"):
            context["end_time"] = {"_type": "DV_DATE_TIME", "value": str(ctx["end_time"])}
        context.setdefault(
            "setting", _coded("other care", "openehr", str(ctx.get("setting") or "238"))
        )
        if "location" not in context and ctx.get("location"):
            context["location"] = str(ctx["location"])
        hcf = {k.split("|")[1]: v for k, v in ctx.items() if k.startswith("health_care_facility|")}
        if "health_care_facility" not in context and hcf:
            context["health_care_facility"] = _party({f"|{k}": v for k, v in hcf.items()})
    participations = _participations(ctx)
    _walk(data, language, encoding, time, participations)


def _template_category(opt: OperationalTemplate) -> str:
    """The category code the template fixes (event, 433, when it fixes none)."""
    attr = opt.definition.attribute("category")
    for coded in attr.children if attr else []:
        codes = coded.attribute("defining_code")
        for phrase in codes.children if codes else []:
            if phrase.codes:
                return phrase.codes[0]
    return "433"


def _has_context(opt: OperationalTemplate) -> bool:
    return opt.definition.attribute("context") is not None


#: the attributes that lead to ENTRYs, HISTORYs, EVENTs and ACTIVITYs
_STRUCTURE = ("content", "items", "data", "events", "activities")


def _walk(node: Any, language: Any, encoding: Any, time: str, participations: list[Any]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, language, encoding, time, participations)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("_type")
    if kind in ("OBSERVATION", "EVALUATION", "INSTRUCTION", "ACTION", "ADMIN_ENTRY"):
        node.setdefault("language", language)
        node.setdefault("encoding", encoding)
        node.setdefault("subject", {"_type": "PARTY_SELF"})
        if participations and "other_participations" not in node:
            node["other_participations"] = [dict(p) for p in participations]
    if kind == "ACTION":
        node.setdefault("time", {"_type": "DV_DATE_TIME", "value": time})
    if kind == "INSTRUCTION":
        node.setdefault("narrative", {"_type": "DV_TEXT", "value": ""})
    if kind == "ACTIVITY":
        node.setdefault("action_archetype_id", "/.*/")
    if kind == "POINT_EVENT" and ("width" in node or "math_function" in node):
        node["_type"] = kind = "INTERVAL_EVENT"
    if kind in ("POINT_EVENT", "INTERVAL_EVENT"):
        node.setdefault("time", {"_type": "DV_DATE_TIME", "value": time})
    for attr in _STRUCTURE:
        value = node.get(attr)
        if value is not None:
            _walk(value, language, encoding, time, participations)
    if kind == "HISTORY":
        events = node.get("events") or []
        first = events[0].get("time") if events and isinstance(events[0], dict) else None
        node.setdefault(
            "origin", dict(first) if first else {"_type": "DV_DATE_TIME", "value": time}
        )
