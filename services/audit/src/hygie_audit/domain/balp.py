"""FHIR R4 AuditEvent records shaped by IHE BALP (Basic Audit Log Patterns).

Built from domain events (changes: Create/Update/Delete of patient data) and from access
events (BALP PatientRead / PatientQuery with the ``XrequestId`` entity). Pure functions.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any
from uuid import UUID

from hygie_contracts.access import QueryExecuted, RecordAccessed

__all__ = [
    "DCM",
    "from_access",
    "from_domain_event",
    "from_query",
    "patient_entity",
]

DCM = "http://dicom.nema.org/resources/ontology/DCM"
EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL = "http://hl7.org/fhir/restful-interaction"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
ROLE_CLASS = "http://terminology.hl7.org/CodeSystem/v3-RoleClass"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
BALP_ENTITY = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"
HYGIE_EVENT = "urn:hygie:event-type"
HYGIE_EVENT_ID = "urn:hygie:event-id"
HYGIE_ROLE = "urn:hygie:role"
HYGIE_AGGREGATE = "urn:hygie:aggregate"

#: Past-tense verb of a domain event type → AuditEvent.action and restful interaction.
_VERBS = {
    "created": ("C", "create"),
    "registered": ("C", "create"),
    "recorded": ("C", "create"),
    "uploaded": ("C", "create"),
    "committed": ("U", "update"),
    "updated": ("U", "update"),
    "changed": ("U", "update"),
    "linked": ("U", "update"),
    "unlinked": ("U", "update"),
    "merged": ("U", "update"),
    "unmerged": ("U", "update"),
    "replaced": ("U", "update"),
    "deleted": ("D", "delete"),
}


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _instant(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def patient_entity(patient: str) -> dict[str, Any]:
    """BALP patient entity: type 1 (Person), role 1 (Patient)."""
    if patient.startswith("Patient/"):
        what: dict[str, Any] = {"reference": patient}
    else:
        system, sep, value = patient.rpartition("|")
        what = {"identifier": {"system": system, "value": value} if sep else {"value": patient}}
    return {
        "what": what,
        "type": _coding(ENTITY_TYPE, "1", "Person"),
        "role": _coding(OBJECT_ROLE, "1", "Patient"),
    }


def _data_entity(resource: str) -> dict[str, Any]:
    kind, sep, ident = resource.partition("/")
    what: dict[str, Any] = (
        {"reference": resource}
        if sep and kind[:1].isupper() and ident
        else {"identifier": {"system": HYGIE_AGGREGATE, "value": resource}}
    )
    return {
        "what": what,
        "type": _coding(ENTITY_TYPE, "2", "System Object"),
        "role": _coding(OBJECT_ROLE, "4", "Domain Resource"),
    }


def _source(observer: str) -> dict[str, Any]:
    return {
        "site": "hygie",
        "observer": {"display": observer},
        "type": [_coding(SOURCE_TYPE, "4", "Application Server")],
    }


def from_domain_event(
    *,
    event_id: UUID,
    event_type: str,
    source: str,
    subject: str,
    time: datetime,
    data: dict[str, Any],
    patient: str | None,
) -> dict[str, Any]:
    """A change announced on a domain topic, as an AuditEvent (who, what, which patient,
    when, from which source event). Clinical content is never copied: only ids."""
    verb = event_type.rsplit(".", 2)[-2]
    action, interaction = _VERBS.get(verb, ("E", "operation"))
    author = _committer(data)
    agents: list[dict[str, Any]] = []
    if author:
        agents.append(
            {
                "type": {"coding": [_coding(PARTICIPATION, "AUT", "author (originator)")]},
                "who": {"identifier": {"value": author}},
                "requestor": True,
            }
        )
    agents.append(
        {
            "type": {"coding": [_coding(DCM, "110150", "Application")]},
            "who": {"display": source},
            "requestor": not author,
        }
    )
    entities = [_data_entity(subject)]
    entities[0]["detail"] = [{"type": "event", "valueString": event_type}]
    entities.append(
        {
            "what": {"identifier": {"system": HYGIE_EVENT_ID, "value": str(event_id)}},
            "type": _coding(ENTITY_TYPE, "2", "System Object"),
            "role": _coding(OBJECT_ROLE, "20", "Job"),
        }
    )
    if patient:
        entities.insert(0, patient_entity(patient))
    return {
        "resourceType": "AuditEvent",
        "type": _coding(DCM, "110110", "Patient Record")
        if patient
        else _coding(DCM, "110100", "Application Activity"),
        "subtype": [_coding(RESTFUL, interaction), _coding(HYGIE_EVENT, event_type)],
        "action": action,
        "recorded": _instant(time),
        "outcome": "0",
        "agent": agents,
        "source": _source(source),
        "entity": entities,
    }


def _committer(data: dict[str, Any]) -> str | None:
    for holder in (data, data.get("audit") or {}, data.get("audit_details") or {}):
        if isinstance(holder, dict):
            for key in ("committer", "agent", "actor", "user"):
                value = holder.get(key)
                if isinstance(value, str) and value:
                    return value
    return None


def from_access(*, source: str, event: RecordAccessed) -> dict[str, Any]:
    """BALP PatientRead (action R) or PatientQuery (action E) from an access event."""
    return _rest(
        source=source,
        event=event,
        action=event.action,
        interaction=event.interaction,
        patient=event.patient,
    )


def from_query(*, source: str, event: QueryExecuted, patient: str | None) -> dict[str, Any]:
    """BALP PatientQuery for one patient the query's result held (one AuditEvent per patient
    identified, as BALP asks), or, with ``patient`` None, the query alone: aggregates, or
    more patients than the event lists — then the count and digest of the patients as
    entity details."""
    details = []
    if patient is None:
        if event.patient_count is not None:
            details.append({"type": "patient-count", "valueString": str(event.patient_count)})
        if event.patients_digest:
            details.append({"type": "patients-sha256", "valueString": event.patients_digest})
        details.append({"type": "rows", "valueString": str(event.rows)})
    return _rest(
        source=source,
        event=event,
        action="E",
        interaction="search-type",
        patient=patient,
        details=details,
    )


def _rest(
    *,
    source: str,
    event: RecordAccessed | QueryExecuted,
    action: str,
    interaction: str,
    patient: str | None,
    details: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    user: dict[str, Any] = {
        "type": {"coding": [_coding(PARTICIPATION, "IRCP", "information recipient")]},
        "who": {"identifier": {"value": event.agent}},
        "requestor": True,
        "role": [{"coding": [_coding(HYGIE_ROLE, r)]} for r in event.roles],
    }
    if event.purpose:
        user["purposeOfUse"] = [{"coding": [_coding(ACT_REASON, event.purpose)]}]
    agents = [
        user,
        {
            "type": {"coding": [_coding(DCM, "110152", "Destination Role ID")]},
            "who": {"display": source},
            "requestor": False,
        },
    ]
    if event.organization:
        agents.append(
            {
                "type": {"coding": [_coding(ROLE_CLASS, "PROV", "healthcare provider")]},
                "who": {"display": event.organization},
                "requestor": False,
            }
        )
    entities = [patient_entity(patient)] if patient else []
    entities.append(_data_entity(event.resource))
    if event.query:
        query: dict[str, Any] = {
            "type": _coding(ENTITY_TYPE, "2", "System Object"),
            "role": _coding(OBJECT_ROLE, "24", "Query"),
            "query": base64.b64encode(event.query.encode()).decode(),
        }
        if details:
            query["detail"] = details
        entities.append(query)
    if event.request_id:
        entities.append(
            {
                "what": {"identifier": {"value": event.request_id}},
                "type": _coding(BALP_ENTITY, "XrequestId"),
            }
        )
    return {
        "resourceType": "AuditEvent",
        "type": _coding(EVENT_TYPE, "rest", "Restful Operation"),
        "subtype": [_coding(RESTFUL, interaction)],
        "action": action,
        "recorded": _instant(event.occurred_at),
        "outcome": event.outcome,
        "agent": agents,
        "source": _source(source),
        "entity": entities,
    }
