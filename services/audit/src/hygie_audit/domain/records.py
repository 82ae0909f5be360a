"""An AuditEvent as the log keeps it: validation of received ones (ATX feed), the search
fields every record is indexed by, and the canonical bytes that the Merkle leaf hashes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from .balp import ACT_REASON, ENTITY_TYPE, OBJECT_ROLE, ROLE_CLASS

__all__ = ["IndexFields", "InvalidAuditEvent", "canonical_entry", "index_of", "validate"]


class InvalidAuditEvent(ValueError):
    """An AuditEvent that does not validate (FHIR R4 cardinalities and codes we rely on)."""

    def __init__(self, path: str, message: str, *, index: int = 0) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message
        self.index = index
        """which of the received resources (a Bundle entry)"""


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Coding(_Open):
    system: str | None = None
    code: str = Field(min_length=1)


class _Reference(_Open):
    reference: str | None = None
    display: str | None = None
    identifier: dict[str, Any] | None = None


class _Agent(_Open):
    who: _Reference | None = None
    requestor: bool


class _Source(_Open):
    observer: _Reference


class _Entity(_Open):
    what: _Reference | None = None
    type: _Coding | None = None
    role: _Coding | None = None


class _AuditEvent(_Open):
    resourceType: Literal["AuditEvent"]
    type: _Coding
    subtype: list[_Coding] = []
    action: Literal["C", "R", "U", "D", "E"] | None = None
    recorded: AwareDatetime
    outcome: Literal["0", "4", "8", "12"] | None = None
    agent: list[_Agent] = Field(min_length=1)
    source: _Source
    entity: list[_Entity] = []


def validate(resource: Any) -> dict[str, Any]:
    """Check a received AuditEvent (R4: type, recorded, agent 1..*, source.observer);
    raise InvalidAuditEvent naming the first offending path."""
    if not isinstance(resource, dict):
        raise InvalidAuditEvent("(root)", "an AuditEvent must be a JSON object")
    try:
        _AuditEvent.model_validate(resource)
    except ValidationError as exc:
        err = exc.errors()[0]
        path = ".".join(str(p) for p in err["loc"]) or "(root)"
        raise InvalidAuditEvent(f"AuditEvent.{path}", err["msg"]) from None
    return resource


@dataclass(frozen=True)
class IndexFields:
    """What AuditEvent search (ITI-81 style) and the patient report filter on."""

    recorded: datetime
    patient: str | None
    agents: list[str]
    type: str
    subtypes: list[str]
    action: str | None
    outcome: str | None
    entities: list[str]
    purposes: list[str]

    def row(self) -> dict[str, Any]:
        return {
            "recorded": self.recorded,
            "patient": self.patient,
            "agents": self.agents,
            "type": self.type,
            "subtypes": self.subtypes,
            "action": self.action,
            "outcome": self.outcome,
            "entities": self.entities,
            "purposes": self.purposes,
        }


def _ref_key(what: dict[str, Any] | None) -> str | None:
    if not what:
        return None
    if what.get("reference"):
        return str(what["reference"])
    ident = what.get("identifier") or {}
    if ident.get("value"):
        return f"{ident['system']}|{ident['value']}" if ident.get("system") else ident["value"]
    return None


def _is(coding: dict[str, Any] | None, system: str, code: str) -> bool:
    return bool(coding) and coding.get("system") == system and coding.get("code") == code  # type: ignore[union-attr]


def index_of(resource: dict[str, Any]) -> IndexFields:
    """The search fields of a (valid) AuditEvent."""
    patient = None
    entities = []
    for entity in resource.get("entity") or []:
        key = _ref_key(entity.get("what"))
        if key is None:
            continue
        is_patient = _is(entity.get("role"), OBJECT_ROLE, "1") or (
            _is(entity.get("type"), ENTITY_TYPE, "1") and key.startswith("Patient/")
        )
        if is_patient and patient is None:
            patient = key
        entities.append(key)
    agents, purposes = [], []
    for agent in resource.get("agent") or []:
        if any(_is(c, ROLE_CLASS, "PROV") for c in (agent.get("type") or {}).get("coding", [])):
            continue  # the organisation, not a person or system
        key = _ref_key(agent.get("who")) or (agent.get("who") or {}).get("display")
        if key:
            agents.append(key)
        for concept in agent.get("purposeOfUse") or []:
            purposes += [c["code"] for c in concept.get("coding", []) if c.get("code")]
    for concept in resource.get("purposeOfEvent") or []:
        purposes += [c["code"] for c in concept.get("coding", []) if c.get("system") == ACT_REASON]
    recorded = resource["recorded"]
    return IndexFields(
        recorded=recorded
        if isinstance(recorded, datetime)
        else datetime.fromisoformat(recorded.replace("Z", "+00:00")),
        patient=patient,
        agents=agents,
        type=resource["type"]["code"],
        subtypes=[c["code"] for c in resource.get("subtype") or [] if c.get("code")],
        action=resource.get("action"),
        outcome=resource.get("outcome"),
        entities=entities,
        purposes=sorted(set(purposes)),
    )


def canonical_entry(seq: int, resource: dict[str, Any]) -> bytes:
    """The bytes a Merkle leaf hashes: the record with its sequence number, keys sorted.
    Carrying ``seq`` makes a re-ordered record detectable from its own bytes."""
    return orjson.dumps({"seq": seq, "resource": resource}, option=orjson.OPT_SORT_KEYS)
