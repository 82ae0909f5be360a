"""Builders of canonical JSON compositions and events for the projection's tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

from hygie_contracts.ehr import (
    AuditDetails,
    CompositionCommitted,
    CompositionDeleted,
    EhrErased,
    PartyRef,
)
from hygie_contracts.patient import PatientIdentifier, PatientRegistered

__all__ = [
    "blood_pressure",
    "coded",
    "committed",
    "composition",
    "death_summary",
    "deleted",
    "element",
    "encounter",
    "erased",
    "lab_result",
    "problem",
    "quantity",
    "registered",
]

WHEN = "2024-03-01T10:00:00Z"


def quantity(magnitude: float, units: str) -> dict[str, Any]:
    return {"_type": "DV_QUANTITY", "magnitude": magnitude, "units": units}


def coded(terminology: str, code: str, text: str = "") -> dict[str, Any]:
    return {
        "_type": "DV_CODED_TEXT",
        "value": text or code,
        "defining_code": {
            "_type": "CODE_PHRASE",
            "terminology_id": {"_type": "TERMINOLOGY_ID", "value": terminology},
            "code_string": code,
        },
    }


def element(node_id: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"_type": "ELEMENT", "archetype_node_id": node_id, "value": value}


def _event(node_id: str, data_id: str, items: list[Any], when: str) -> dict[str, Any]:
    return {
        "_type": "POINT_EVENT",
        "archetype_node_id": node_id,
        "time": {"_type": "DV_DATE_TIME", "value": when},
        "data": {"_type": "ITEM_TREE", "archetype_node_id": data_id, "items": items},
    }


def blood_pressure(systolic: float, diastolic: float, when: str = WHEN) -> dict[str, Any]:
    return {
        "_type": "OBSERVATION",
        "archetype_node_id": "openEHR-EHR-OBSERVATION.blood_pressure.v2",
        "data": {
            "_type": "HISTORY",
            "archetype_node_id": "at0001",
            "events": [
                _event(
                    "at0006",
                    "at0003",
                    [
                        element("at0004", quantity(systolic, "mm[Hg]")),
                        element("at0005", quantity(diastolic, "mm[Hg]")),
                    ],
                    when,
                )
            ],
        },
    }


def lab_result(analytes: list[tuple[str, dict[str, Any]]], when: str = WHEN) -> dict[str, Any]:
    """A laboratory test result with analytes (LOINC code, value)."""
    clusters = [
        {
            "_type": "CLUSTER",
            "archetype_node_id": "openEHR-EHR-CLUSTER.laboratory_test_analyte.v1",
            "items": [element("at0024", coded("LOINC", code)), element("at0001", value)],
        }
        for code, value in analytes
    ]
    return {
        "_type": "OBSERVATION",
        "archetype_node_id": "openEHR-EHR-OBSERVATION.laboratory_test_result.v1",
        "data": {
            "_type": "HISTORY",
            "archetype_node_id": "at0001",
            "events": [_event("at0002", "at0003", clusters, when)],
        },
    }


def problem(terminology: str, code: str, onset: str = "2024-02-20") -> dict[str, Any]:
    return {
        "_type": "EVALUATION",
        "archetype_node_id": "openEHR-EHR-EVALUATION.problem_diagnosis.v1",
        "data": {
            "_type": "ITEM_TREE",
            "archetype_node_id": "at0001",
            "items": [
                element("at0002", coded(terminology, code)),
                element("at0077", {"_type": "DV_DATE_TIME", "value": onset + "T00:00:00Z"}),
            ],
        },
    }


def death_summary(when: str) -> dict[str, Any]:
    """A death summary (EVALUATION death_summary.v1) with its date/time of death."""
    return {
        "_type": "EVALUATION",
        "archetype_node_id": "openEHR-EHR-EVALUATION.death_summary.v1",
        "data": {
            "_type": "ITEM_TREE",
            "archetype_node_id": "at0001",
            "items": [element("at0092", {"_type": "DV_DATE_TIME", "value": when})],
        },
    }


def composition(*entries: dict[str, Any], archetype: str = "openEHR-EHR-COMPOSITION.encounter.v1",
                start: str = WHEN, end: str | None = "2024-03-01T12:00:00Z",
                setting: str = "238") -> dict[str, Any]:  # fmt: skip
    context: dict[str, Any] = {
        "_type": "EVENT_CONTEXT",
        "start_time": {"_type": "DV_DATE_TIME", "value": start},
        "setting": coded("openehr", setting, "other care"),
    }
    if end:
        context["end_time"] = {"_type": "DV_DATE_TIME", "value": end}
    return {
        "_type": "COMPOSITION",
        "archetype_node_id": archetype,
        "archetype_details": {"archetype_id": {"value": archetype}},
        "context": context,
        "content": list(entries),
    }


def encounter(*entries: dict[str, Any], **options: Any) -> dict[str, Any]:
    return composition(*entries, **options)


def _audit() -> AuditDetails:
    return AuditDetails(
        system_id="hygie", time_committed=datetime.now(UTC), change_type="creation",
        committer="tester",
    )  # fmt: skip


def committed(ehr_id: UUID, body: dict[str, Any], *, voi: UUID | None = None, version: int = 1,
              subject: tuple[str, str] | None = None) -> CompositionCommitted:  # fmt: skip
    voi = voi or uuid4()
    return CompositionCommitted(
        ehr_id=ehr_id,
        version_uid=f"{voi}::hygie::{version}",
        preceding_version_uid=f"{voi}::hygie::{version - 1}" if version > 1 else None,
        contribution_id=uuid4(),
        template_id="test.v1",
        archetype_id=body["archetype_node_id"],
        subject=PartyRef(namespace=subject[0], id=subject[1]) if subject else None,
        audit=_audit(),
        composition=body,
    )


def deleted(ehr_id: UUID, voi: UUID, version: int) -> CompositionDeleted:
    return CompositionDeleted(
        ehr_id=ehr_id, version_uid=f"{voi}::hygie::{version}",
        preceding_version_uid=f"{voi}::hygie::{version - 1}", contribution_id=uuid4(),
        audit=_audit(),
    )  # fmt: skip


def erased(ehr_id: UUID, *, subject: tuple[str, str] | None = None) -> EhrErased:
    return EhrErased(
        ehr_id=ehr_id, subject=PartyRef(namespace=subject[0], id=subject[1]) if subject else None,
        erased_at=datetime.now(UTC), reason="right to erasure (test)", requested_by="admin",
    )  # fmt: skip


def registered(patient_id: UUID, *, ipp: str | None = None, birth: date | None = date(1970, 5, 17),
               sex: str = "female", death: date | None = None) -> PatientRegistered:  # fmt: skip
    identifiers = (
        (PatientIdentifier(system="urn:oid:1.2.250.1.71.4.2.7", value=ipp),) if ipp else ()
    )
    return PatientRegistered(
        patient_id=patient_id, identifiers=identifiers, birth_date=birth, sex=sex,  # type: ignore[arg-type]
        death_date=death,
    )  # fmt: skip
