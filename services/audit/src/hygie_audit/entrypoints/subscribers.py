"""Event subscribers of the audit service."""

from hygie_contracts import EHR_TOPIC, PATIENT_TOPIC
from hygie_contracts.access import ACCESS_TOPIC
from hygie_contracts.schemas import all_event_types
from hygie_platform.consumer import Subscription

from ..service.ingest import record_events

__all__ = ["DOMAIN_TOPICS", "domain_events"]

#: Every contract module is imported, so that every known event type of every domain is
#: decoded (a type the contracts do not know is dead-lettered by the platform).
all_event_types()

#: Every hygie.* domain topic, listed (the platform subscribes to named topics) and the
#: access topic. A malformed or unknown-type record is dead-lettered by the platform.
DOMAIN_TOPICS = (
    EHR_TOPIC,
    PATIENT_TOPIC,
    "hygie.terminology.v1",
    "hygie.omop.v1",
    ACCESS_TOPIC,
)

#: Group ``hygie.audit.domain-events``; each fetched batch is appended to the log in one
#: transaction, offsets committed after it.
domain_events = Subscription(
    name="domain-events", topics=DOMAIN_TOPICS, batch_handler=record_events
)
