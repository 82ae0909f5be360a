"""The identity feed of hospital applications (``hygie.ingest.patient.v1``).

Group ``hygie.patient_index.identity-feed``; the platform acknowledges after the
transaction commits. A record breaking a rule raises: nothing is stored and the platform
dead-letters it after its retries.
"""

from __future__ import annotations

from hygie_contracts import Event
from hygie_contracts.patient import INGEST_PATIENT_TOPIC, PatientRecorded, PatientReplaced
from hygie_platform.consumer import Handler, Subscription
from hygie_platform.envelope import Envelope
from hygie_platform.uow import UnitOfWork

from ..domain.identity import Identifier
from ..service.context import IndexContext
from ..service.feed import replace_identity
from ..service.identity import record_identity
from ..service.queries import source_for_identifier
from .ingest_mapping import draft_from_event

__all__ = ["identity_feed"]


def _handler(ctx: IndexContext) -> Handler:
    async def handle(uow: UnitOfWork, envelope: Envelope, event: Event) -> None:
        by = envelope.source
        if isinstance(event, PatientRecorded):
            await record_identity(uow, ctx, draft_from_event(event), by=by)
        elif isinstance(event, PatientReplaced):
            ident = Identifier(event.identifier.system, event.identifier.value)
            source = await source_for_identifier(uow, ident)
            if source is None:
                raise LookupError(f"{ident} is not known: cannot be replaced")
            await replace_identity(uow, ctx, source, str(event.replaced_by), by=by)

    return handle


def identity_feed(ctx: IndexContext) -> Subscription:
    return Subscription(
        name="identity-feed",
        topics=(INGEST_PATIENT_TOPIC,),
        handler=_handler(ctx),
        event_types=frozenset({PatientRecorded.event_type, PatientReplaced.event_type}),
    )
