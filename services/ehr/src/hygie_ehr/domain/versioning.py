"""Versioning rules of the openEHR common IM: version uids, change types, lifecycle
states, AUDIT_DETAILS, and the ITS-REST headers that carry them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

__all__ = [
    "CHANGE_TYPES",
    "LIFECYCLE_STATES",
    "Audit",
    "BadHeader",
    "VersionUid",
    "parse_attribute_header",
]

#: openEHR terminology "audit change type"
CHANGE_TYPES = {
    "creation": "249",
    "amendment": "250",
    "modification": "251",
    "synthesis": "252",
    "unknown": "253",
    "deleted": "523",
    "attestation": "666",
}
_CHANGE_BY_CODE = {v: k for k, v in CHANGE_TYPES.items()}
#: openEHR terminology "version lifecycle state"
LIFECYCLE_STATES = {"complete": "532", "incomplete": "553", "deleted": "523"}
_LIFECYCLE_BY_CODE = {v: k for k, v in LIFECYCLE_STATES.items()}


class BadHeader(ValueError):
    """An ``openehr-version`` / ``openehr-audit-details`` header that cannot be read."""


@dataclass(frozen=True, slots=True)
class VersionUid:
    """``<object id>::<creating system id>::<version tree id>`` (OBJECT_VERSION_ID)."""

    object_id: UUID
    system_id: str
    version: int

    def __str__(self) -> str:
        return f"{self.object_id}::{self.system_id}::{self.version}"

    @classmethod
    def parse(cls, text: str) -> VersionUid:
        parts = text.split("::")
        if len(parts) != 3:
            raise ValueError(f"{text!r} is not a version uid (<uuid>::<system>::<version>)")
        try:
            return cls(UUID(parts[0]), parts[1], int(parts[2]))
        except ValueError:
            raise ValueError(
                f"{text!r} is not a version uid (<uuid>::<system>::<version>)"
            ) from None


def object_id_of(text: str) -> tuple[UUID, int | None]:
    """A path segment that is either a versioned object id or a version uid."""
    if "::" in text:
        uid = VersionUid.parse(text)
        return uid.object_id, uid.version
    return UUID(text), None


_PAIR = re.compile(r'\s*([A-Za-z_][\w.]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,]*))\s*(?:,|$)')


def parse_attribute_header(value: str | None) -> dict[str, str]:
    """ITS-REST ``openEHR-VERSION`` / ``openEHR-AUDIT_DETAILS``: comma-separated
    ``path="value"`` pairs (e.g. ``lifecycle_state.code_string="532"``)."""
    if not value or not value.strip():
        return {}
    out: dict[str, str] = {}
    pos = 0
    while pos < len(value):
        match = _PAIR.match(value, pos)
        if not match or match.end() == pos:
            raise BadHeader(f'cannot read {value!r} as attribute="value" pairs')
        out[match.group(1)] = (
            match.group(2) if match.group(2) is not None else match.group(3).strip()
        )
        pos = match.end()
    return out


def lifecycle_from_header(value: str | None, *, default: str = "complete") -> str:
    """The lifecycle state an ``openehr-version`` header asks for (complete, incomplete...)."""
    attrs = parse_attribute_header(value)
    code = attrs.get("lifecycle_state.code_string") or attrs.get("lifecycle_state")
    if code is None:
        text = attrs.get("lifecycle_state.value")
        if text is None:
            return default
        if text not in LIFECYCLE_STATES:
            raise BadHeader(f"unknown lifecycle state {text!r}")
        return text
    if code in _LIFECYCLE_BY_CODE:
        return _LIFECYCLE_BY_CODE[code]
    if code in LIFECYCLE_STATES:
        return code
    raise BadHeader(f"unknown lifecycle state code {code!r} (532 complete, 553 incomplete)")


@dataclass(frozen=True, slots=True)
class Audit:
    """The AUDIT_DETAILS of one commit."""

    system_id: str
    time_committed: datetime
    change_type: str
    committer: dict[str, Any]
    description: str | None = None

    @property
    def committer_name(self) -> str:
        return str(self.committer.get("name") or "unknown")

    def with_change(self, change_type: str) -> Audit:
        return Audit(
            self.system_id, self.time_committed, change_type, self.committer, self.description
        )

    def to_rm(self) -> dict[str, Any]:
        """Canonical JSON of this AUDIT_DETAILS."""
        out: dict[str, Any] = {
            "_type": "AUDIT_DETAILS",
            "system_id": self.system_id,
            "time_committed": {"_type": "DV_DATE_TIME", "value": self.time_committed.isoformat()},
            "change_type": {
                "_type": "DV_CODED_TEXT",
                "value": self.change_type,
                "defining_code": {
                    "_type": "CODE_PHRASE",
                    "terminology_id": {"_type": "TERMINOLOGY_ID", "value": "openehr"},
                    "code_string": CHANGE_TYPES[self.change_type],
                },
            },
            "committer": self.committer,
        }
        if self.description:
            out["description"] = {"_type": "DV_TEXT", "value": self.description}
        return out


def audit_from_header(
    value: str | None, *, system_id: str, now: datetime, default_change: str, principal: str
) -> Audit:
    """AUDIT_DETAILS from an ``openehr-audit-details`` header; committer from the token
    when the header names none."""
    attrs = parse_attribute_header(value)
    change = attrs.get("change_type.code_string")
    change_type = (
        _CHANGE_BY_CODE.get(change, default_change)
        if change
        else attrs.get("change_type.value", default_change)
    )
    if change_type not in CHANGE_TYPES:
        raise BadHeader(f"unknown change type {change_type!r}")
    return Audit(
        system_id=system_id,
        time_committed=now,
        change_type=change_type,
        committer=committer_from(attrs, principal=principal),
        description=attrs.get("description.value") or attrs.get("description"),
    )


def committer_from(attrs: dict[str, str], *, principal: str) -> dict[str, Any]:
    committer: dict[str, Any] = {
        "_type": "PARTY_IDENTIFIED",
        "name": attrs.get("committer.name") or principal,
    }
    ref_id = attrs.get("committer.external_ref.id")
    if ref_id:
        committer["external_ref"] = {
            "_type": "PARTY_REF",
            "id": {"_type": "GENERIC_ID", "value": ref_id, "scheme": "id_scheme"},
            "namespace": attrs.get("committer.external_ref.namespace", "DEMOGRAPHIC"),
            "type": attrs.get("committer.external_ref.type", "PERSON"),
        }
    return committer


def audit_from_rm(
    data: dict[str, Any] | None,
    *,
    system_id: str,
    now: datetime,
    default_change: str,
    principal: str,
) -> Audit:
    """AUDIT_DETAILS given in a CONTRIBUTION body (server sets system id and time)."""
    data = data or {}
    change = ((data.get("change_type") or {}).get("defining_code") or {}).get("code_string")
    change_type = (
        _CHANGE_BY_CODE.get(change or "")
        or (data.get("change_type") or {}).get("value")
        or default_change
    )
    if change_type not in CHANGE_TYPES:
        raise BadHeader(f"unknown change type {change_type!r}")
    committer = data.get("committer")
    if not isinstance(committer, dict) or not committer.get("name"):
        committer = {"_type": "PARTY_IDENTIFIED", "name": principal}
    description = (data.get("description") or {}).get("value")
    return Audit(
        system_id=system_id,
        time_committed=now,
        change_type=change_type,
        committer=committer,
        description=description,
    )
