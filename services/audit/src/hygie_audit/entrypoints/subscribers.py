"""Event subscribers of the audit service."""

from hygie_contracts import EHR_TOPIC
from hygie_platform.consumer import Subscription

from ..service.record import record_seen_event

#: Every event of the EHR store is recorded (group ``hygie.audit.domain-events``).
domain_events = Subscription(name="domain-events", topics=(EHR_TOPIC,), handler=record_seen_event)
