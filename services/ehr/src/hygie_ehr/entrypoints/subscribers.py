"""Patient merges (``hygie.patient.v1``): group ``hygie.ehr.patient-merges``; the
platform acknowledges after the transaction commits, retries a failure and then
dead-letters it with its reason."""

from __future__ import annotations

from hygie_contracts import Event
from hygie_contracts.patient import PATIENT_TOPIC, PatientMerged, PatientUnmerged
from hygie_platform.consumer import Handler, Subscription
from hygie_platform.envelope import Envelope
from hygie_platform.uow import UnitOfWork

from ..service.merges import apply_merge, apply_unmerge

__all__ = ["patient_merges"]


def _handler(system_id: str) -> Handler:
    async def handle(uow: UnitOfWork, envelope: Envelope, event: Event) -> None:
        if isinstance(event, PatientMerged):
            await apply_merge(
                uow,
                merged=event.patient_id,
                survivor=event.survivor_id,
                event_id=str(envelope.id),
                system_id=system_id,
                by=event.by,
            )
        elif isinstance(event, PatientUnmerged):
            await apply_unmerge(
                uow,
                patient=event.patient_id,
                previous_survivor=event.previous_survivor_id,
                system_id=system_id,
                by=event.by,
            )

    return handle


def patient_merges(system_id: str) -> Subscription:
    return Subscription(
        name="patient-merges",
        topics=(PATIENT_TOPIC,),
        handler=_handler(system_id),
        event_types=frozenset({PatientMerged.event_type, PatientUnmerged.event_type}),
    )
