"""FHIR Patient (FR Core) → a source-record draft. Every problem is collected as an
Issue naming the field and the rule, so the caller answers one OperationOutcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from ...domain.errors import InvalidIdentity, Issue
from ...domain.identity import Address, Identifier, Sex, SourceRecord, Telecom, Traits
from ...domain.ins import INS_OIDS, Ins, InvalidNir
from ...domain.rniv import IdentityStatus
from .urls import (
    BILLING_NIR_TYPES,
    BIRTH_LIST_GIVEN_NAME,
    BIRTH_PLACE,
    IDENTITY_RELIABILITY,
    INS_TYPE_CODES,
    MPI_SYSTEM,
)

__all__ = ["ParsedPatient", "parse_patient"]

_NIL = UUID(int=0)


@dataclass(frozen=True)
class ParsedPatient:
    draft: SourceRecord
    replaced_by: str | None = None
    """ITI-104 merge: ``Patient/<id>`` or ``system|value`` of the surviving patient."""


def _type_codes(ident: dict[str, Any]) -> set[str]:
    return {c.get("code") for c in (ident.get("type") or {}).get("coding", []) if c.get("code")}


def _date(value: Any, field: str, issues: list[Issue]) -> date | None:
    if value is None:
        return None
    text = str(value)
    try:
        if len(text) < 10 or text[4] != "-":
            raise ValueError(text)
        return date.fromisoformat(text[:10])
    except ValueError:
        issues.append(Issue(field, "date-format", f"{value!r} is not a full date (YYYY-MM-DD)"))
        return None


def _ext(items: list[dict[str, Any]] | None, url: str) -> dict[str, Any] | None:
    return next((e for e in items or [] if e.get("url") == url), None)


def _identifiers(
    body: dict[str, Any], issues: list[Issue]
) -> tuple[list[Identifier], Ins | None, str | None]:
    local: list[Identifier] = []
    ins: Ins | None = None
    billing: str | None = None
    for ident in body.get("identifier") or []:
        system, value = ident.get("system") or "", ident.get("value") or ""
        oid = system.removeprefix("urn:oid:")
        codes = _type_codes(ident)
        if system == MPI_SYSTEM:
            continue  # our own golden id, echoed back by a client
        if oid in INS_OIDS and codes & BILLING_NIR_TYPES:
            billing = value
        elif oid in INS_OIDS or codes & INS_TYPE_CODES:
            if oid not in INS_OIDS:
                issues.append(
                    Issue(
                        "ins",
                        "ins-oid",
                        f"INS identifier with system {system!r}: "
                        "the OID must be 1.2.250.1.213.1.4.8, .9, .10 or .11",
                    )
                )
                continue
            try:
                ins = Ins(value, oid)
            except InvalidNir as exc:
                issues.append(Issue("ins", exc.rule, str(exc)))
        else:
            local.append(Identifier(system, value))
    return local, ins, billing


def _names(body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in body.get("name") or []:
        use = name.get("use") or "official"
        given = [g for g in name.get("given") or [] if g]
        listed = _ext(name.get("extension"), BIRTH_LIST_GIVEN_NAME)
        if use == "official":
            out["birth_family_name"] = name.get("family")
            if listed and listed.get("valueString"):
                given = listed["valueString"].split()
            out["birth_given_names"] = tuple(given)
        elif use == "usual":
            out["used_family_name"] = name.get("family")
            out["used_given_name"] = given[0] if given else None
    return out


def _status(body: dict[str, Any], issues: list[Issue]) -> tuple[IdentityStatus, date | None]:
    ext = _ext(body.get("extension"), IDENTITY_RELIABILITY)
    if ext is None:
        return IdentityStatus.PROV, None
    code, when = None, None
    for sub in ext.get("extension") or []:
        if sub.get("url") == "identityStatus":
            code = (sub.get("valueCoding") or {}).get("code")
        elif sub.get("url") == "validationDate":
            when = _date(sub.get("valueDate"), "status", issues)
    try:
        return IdentityStatus(code or "PROV"), when
    except ValueError:
        issues.append(
            Issue(
                "status",
                "identity-status-unknown",
                f"identity status {code!r} is not PROV, RECUP, VALI or QUAL",
            )
        )
        return IdentityStatus.PROV, when


def _birth_place(body: dict[str, Any]) -> str | None:
    ext = _ext(body.get("extension"), BIRTH_PLACE)
    if ext is None:
        return None
    address = ext.get("valueAddress") or {}
    for sub in address.get("extension") or []:
        if sub.get("url", "").endswith("insee-code"):
            coding = sub.get("valueCoding") or {}
            return coding.get("code")
    return None


def parse_patient(body: Any, *, primary: Identifier | None = None) -> ParsedPatient:
    """The draft source record of a FHIR Patient; InvalidIdentity listing every issue."""
    issues: list[Issue] = []
    if not isinstance(body, dict) or body.get("resourceType") != "Patient":
        raise InvalidIdentity(
            [Issue("resourceType", "resource-type", "the body must be a FHIR Patient resource")]
        )
    local, ins, billing = _identifiers(body, issues)
    if primary is not None:
        local = [primary, *(i for i in local if i != primary)]
    if not local:
        issues.append(
            Issue(
                "identifier",
                "identifier-required",
                "a Patient needs a local identifier (system and value)",
            )
        )
    gender = body.get("gender") or "unknown"
    try:
        sex = Sex(gender)
    except ValueError:
        issues.append(
            Issue(
                "sex",
                "sex-code-unknown",
                f"gender {gender!r} is not male, female, other or unknown",
            )
        )
        sex = Sex.UNKNOWN
    status, validation_date = _status(body, issues)
    death = _date(body.get("deceasedDateTime"), "death_date", issues)
    traits = Traits(
        **_names(body),
        sex=sex,
        birth_date=_date(body.get("birthDate"), "birth_date", issues),
        birth_place_code=_birth_place(body),
        death_date=death,
        addresses=tuple(
            Address(
                lines=tuple(a.get("line") or ()),
                city=a.get("city"),
                postal_code=a.get("postalCode"),
                country=a.get("country"),
                use=a.get("use"),
            )
            for a in body.get("address") or []
        ),
        telecoms=tuple(
            Telecom(system=t.get("system") or "other", value=t.get("value") or "", use=t.get("use"))
            for t in body.get("telecom") or []
            if t.get("value")
        ),
    )
    replaced_by = None
    for link in body.get("link") or []:
        if link.get("type") == "replaced-by":
            other = link.get("other") or {}
            ref = other.get("reference")
            ident = other.get("identifier") or {}
            replaced_by = ref or (f"{ident.get('system')}|{ident.get('value')}" if ident else None)
    if issues:
        raise InvalidIdentity(issues)
    draft = SourceRecord(
        id=_NIL,
        identifier=local[0],
        other_identifiers=tuple(local[1:]),
        traits=traits,
        status=status,
        ins=ins,
        billing_nir=billing,
        validation_date=validation_date,
        active=body.get("active", True),
    )
    return ParsedPatient(draft, replaced_by)
