"""``ctx/...`` keys and the defaults the FLAT format fills (language, territory, encoding,
category, composer, subject PARTY_SELF, times, setting)."""

from __future__ import annotations

from dataclasses import dataclass
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
    # EHRbase's other defaults (DefaultValuePath)
    "category",
    "history_origin",
    "action_time",
    "activity_timing",
    "provider_name",
    "provider_id",
    "action_ism_transition_current_state",
    "instruction_narrative",
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
        given = ctx.get("category")
        if given is not None:  # ``ctx/category``: a code or its rubric
            code = _openehr_code(str(given), ("431", "433", "451"))
            if code is None:
                issues.append(("ctx/category", f"{given!r} is not a composition category"))
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
            context["health_care_facility"] = _party(
                {f"|{k}": v for k, v in hcf.items()}, "ORGANISATION"
            )
    entry = _EntryDefaults(
        language=language,
        encoding=encoding,
        time=time,
        participations=_participations(ctx),
        origin=str(ctx["history_origin"]) if ctx.get("history_origin") else None,
        action_time=str(ctx["action_time"]) if ctx.get("action_time") else None,
        timing=str(ctx["activity_timing"]) if ctx.get("activity_timing") else None,
        narrative=str(ctx["instruction_narrative"]) if ctx.get("instruction_narrative") else "",
        provider=_provider(ctx),
        state=_state(ctx, issues),
    )
    _walk(data, entry)


def _openehr_code(given: str, codes: tuple[str, ...]) -> str | None:
    """An openEHR code of ``codes`` given as the code or as its rubric."""
    if given in codes:
        return given
    return next((c for c in codes if openehr_rubric(c) == given.lower()), None)


_STATES = ("524", "526", "527", "528", "529", "245", "530", "531", "532", "533")


def _state(ctx: dict[str, Any], issues: Issues) -> dict[str, Any] | None:
    given = ctx.get("action_ism_transition_current_state")
    if given is None:
        return None
    code = _openehr_code(str(given), _STATES)
    if code is None:
        issues.append(("ctx/action_ism_transition_current_state", f"{given!r} is not an ISM state"))
        return None
    return _coded(openehr_rubric(code) or code, "openehr", code)


def _provider(ctx: dict[str, Any]) -> dict[str, Any] | None:
    if not (ctx.get("provider_name") or ctx.get("provider_id")):
        return None
    spec = {
        "|name": ctx.get("provider_name"),
        "|id": ctx.get("provider_id"),
        "|id_scheme": ctx.get("id_scheme"),
        "|id_namespace": ctx.get("id_namespace"),
    }
    return _party({k: v for k, v in spec.items() if v is not None})


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


@dataclass(frozen=True, slots=True)
class _EntryDefaults:
    """What the FLAT format fills in every ENTRY, HISTORY, EVENT and ACTIVITY."""

    language: Any
    encoding: Any
    time: str
    participations: list[Any]
    origin: str | None = None
    action_time: str | None = None
    timing: str | None = None
    narrative: str = ""
    provider: Any = None
    state: Any = None


def _walk(node: Any, d: _EntryDefaults) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, d)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("_type")
    if kind in ("OBSERVATION", "EVALUATION", "INSTRUCTION", "ACTION", "ADMIN_ENTRY"):
        node.setdefault("language", d.language)
        node.setdefault("encoding", d.encoding)
        node.setdefault("subject", {"_type": "PARTY_SELF"})
        if d.provider is not None:
            node.setdefault("provider", dict(d.provider))
        if d.participations and "other_participations" not in node:
            node["other_participations"] = [dict(p) for p in d.participations]
    if kind == "ACTION":
        node.setdefault("time", {"_type": "DV_DATE_TIME", "value": d.action_time or d.time})
        if d.state is not None:
            ism = node.setdefault("ism_transition", {"_type": "ISM_TRANSITION"})
            ism.setdefault("current_state", dict(d.state))
    if kind == "INSTRUCTION":
        node.setdefault("narrative", {"_type": "DV_TEXT", "value": d.narrative})
    if kind == "ACTIVITY":
        node.setdefault("action_archetype_id", "/.*/")
        if d.timing is not None:
            node.setdefault(
                "timing", {"_type": "DV_PARSABLE", "value": d.timing, "formalism": "timing"}
            )
    if kind == "POINT_EVENT" and ("width" in node or "math_function" in node):
        node["_type"] = kind = "INTERVAL_EVENT"
    if kind in ("POINT_EVENT", "INTERVAL_EVENT"):
        node.setdefault("time", {"_type": "DV_DATE_TIME", "value": d.time})
    for attr in _STRUCTURE:
        value = node.get(attr)
        if value is not None:
            _walk(value, d)
    if kind == "HISTORY":
        events = node.get("events") or []
        first = events[0].get("time") if events and isinstance(events[0], dict) else None
        default = {"_type": "DV_DATE_TIME", "value": d.origin or d.time}
        if first and not d.origin:
            default = dict(first)
        node.setdefault("origin", default)
