"""``hygie demo``: play the plan against a running platform, then write what happened
(counts, live ids for the tour, where each broken input ended up) to a report file."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hygie_contracts.patient import (
    IngestAddress,
    IngestTelecom,
    InsIdentifier,
    PatientIdentifier,
    PatientRecorded,
)
from hygie_platform.config import Settings

from . import compositions as C
from .client import Hygie, Outcome, ensure_templates
from .hospital import Plan, Registration, Stay
from .identities import corrupt_nir

__all__ = [
    "INS_DEMO_OID",
    "DemoReport",
    "registration_summary",
    "report_path",
    "run_demo",
    "wait_caught_up",
]

#: the INS authority OID for demonstration identities (Référentiel INS: ...4.11 = DEMO)
INS_DEMO_OID = "1.2.250.1.213.1.4.11"
INGEST_SOURCE = "/hospital/{site}/admissions"
#: when the demo's qualified identities were checked against INSi and an identity document
INS_VALIDATED = date(2025, 12, 1)


def report_path(settings: Settings) -> Path:
    return settings.home / "demo" / "report.json"


@dataclass
class DemoReport:
    params: dict[str, Any]
    outcome: Outcome = field(default_factory=Outcome)
    templates: dict[str, str] = field(default_factory=dict)
    broken: list[dict[str, Any]] = field(default_factory=list)
    examples: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    writes: int = 0
    catch_up: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "finished_at": datetime.now(UTC).isoformat(),
            "seconds": round(self.seconds, 2),
            "writes": self.writes,
            "writes_per_second": round(self.writes / self.seconds, 1) if self.seconds else None,
            "created": self.outcome.created,
            "existing": self.outcome.existing,
            "refused": {k: v[:5] for k, v in self.outcome.refused.items()},
            "templates": self.templates,
            "broken": self.broken,
            "examples": self.examples,
            "catch_up": self.catch_up,
        }


def patient_event(reg: Registration, *, death: datetime | None = None) -> PatientRecorded:
    """The registration as the site's admission application sends it (ADT A04/A08)."""
    p = reg.identity
    return PatientRecorded(
        identifier=PatientIdentifier(system=reg.site.system, value=reg.ipp),
        birth_family_name=p.birth_family_name,
        birth_given_names=p.given_names,
        used_family_name=p.used_family_name,
        used_given_name=p.given_names[0],
        sex=p.sex,  # type: ignore[arg-type]
        birth_date=p.birth_date,
        birth_place_code=p.birth_place_code,
        death_date=death.date() if death else None,
        addresses=(
            IngestAddress(lines=(p.street,), city=p.city, postal_code=p.postal_code, country="FR"),
        ),
        telecoms=(IngestTelecom(system="phone", value=p.phone, use="mobile"),),
        ins=InsIdentifier(matricule=p.nir, oid=INS_DEMO_OID) if reg.qualified else None,
        billing_nir=None if reg.qualified else p.nir,
        identity_status="QUAL" if reg.qualified else "PROV",
        validation_date=INS_VALIDATED if reg.qualified else None,
    )


def _weight(stay: Stay) -> float:
    return round(random.Random(stay.uid("weight")).gauss(72, 14), 1)


def _stay_steps(stay: Stay) -> list[tuple[str, Callable[[Hygie], Awaitable[tuple[str, str]]]]]:
    """The writes of a stay, in the order the hospital makes them."""
    ehr = stay.registration.ehr_id
    steps: list[tuple[str, Callable[[Hygie], Awaitable[tuple[str, str]]]]] = []

    def commit(kind: str, build: Callable[[], dict[str, Any]]) -> None:
        steps.append((kind, lambda h: h.commit(ehr, build())))

    commit("encounter", lambda: C.encounter(stay, discharged=False))
    commit("medication_orders", lambda: C.medication_orders(stay))
    for n in range(len(stay.vitals)):
        commit(
            "vital_signs",
            lambda n=n: C.vital_signs(stay, n, weight=_weight(stay) if n == 0 else None),
        )  # type: ignore[misc]
    for n in range(len(stay.labs)):
        commit("laboratory", lambda n=n: C.laboratory(stay, n))  # type: ignore[misc]
    if stay.discharged is not None:
        commit("problem_list", lambda: C.problem_list(stay))
        steps.append(
            (
                "encounter_discharge",
                lambda h: h.update(ehr, C.encounter(stay, discharged=True), version=1),
            )
        )
    return steps


async def run_demo(
    settings: Settings,
    plan: Plan,
    *,
    concurrency: int = 12,
    console: Console | None = None,
    broken: bool = True,
) -> DemoReport:
    """Send the whole plan; every write is idempotent (deterministic ids)."""
    console = console or Console()
    report = DemoReport(
        params={
            "patients": len(plan.persons),
            "seed": plan.seed,
            "until": plan.until.isoformat(),
            "stays": len(plan.stays),
            "registrations": len(plan.registrations),
        }
    )
    started = time.monotonic()
    steps = {id(s): _stay_steps(s) for s in plan.stays}
    deaths = {id(s.registration): s.discharged for s in plan.stays if s.died}
    regs = plan.registrations
    total = len(regs) * 2 + len(deaths) + sum(len(v) for v in steps.values())
    async with Hygie(settings) as hygie:
        report.templates = await ensure_templates(hygie.ehr, hygie.headers)
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as progress:
            task = progress.add_task("demo hospital", total=total)
            progress.update(task, description="admissions (identity feed)")
            for reg in regs:
                key = f"patient|{reg.site.system}|{reg.ipp}"
                source = INGEST_SOURCE.format(site=reg.site.code)
                await hygie.record_patient(patient_event(reg), key=key, source=source)
                report.outcome.add("patient_recorded", "sent")
                progress.advance(task)
                death = deaths.get(id(reg))
                if death is not None:
                    await hygie.record_patient(
                        patient_event(reg, death=death), key=f"{key}|death", source=source
                    )
                    report.outcome.add("patient_death_recorded", "sent")
                    progress.advance(task)
            await hygie.flush()
            progress.update(task, description="EHRs")
            sem = asyncio.Semaphore(concurrency)

            async def ehr_of(reg: Registration) -> None:
                async with sem:
                    status = await hygie.create_ehr(
                        reg.ehr_id, namespace=reg.site.system, subject=reg.ipp
                    )
                report.outcome.add("ehr", status)
                progress.advance(task)

            await asyncio.gather(*(ehr_of(r) for r in regs))
            progress.update(task, description="stays (compositions)")

            async def play(stay: Stay) -> None:
                for kind, step in steps[id(stay)]:
                    async with sem:
                        status, detail = await step(hygie)
                    report.outcome.add(kind, status, detail)
                    progress.advance(task)

            await asyncio.gather(*(play(s) for s in plan.stays))
            progress.update(task, description="done")
        report.writes = total
        report.seconds = time.monotonic() - started
        if broken:
            report.broken = await send_broken_input(hygie, plan)
    report.examples = examples(plan)
    return report


async def send_broken_input(hygie: Hygie, plan: Plan) -> list[dict[str, Any]]:
    """What a real hospital also sends: each goes somewhere visible, none blocks."""
    out: list[dict[str, Any]] = []
    stay = plan.stays[0]
    reg = stay.registration
    person = reg.identity
    bad_nir = corrupt_nir(person.nir)
    # 1. an INS with a wrong control key typed at the desk, through the FHIR API (ITI-104)
    system, value = reg.site.system, f"ERR{plan.seed:04d}01"
    body = {
        "resourceType": "Patient",
        "identifier": [
            {"system": system, "value": value},
            {
                "system": f"urn:oid:{INS_DEMO_OID}",
                "value": bad_nir,
                "type": {
                    "coding": [
                        {
                            "system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203",
                            "code": "INS-NIR",
                        }
                    ]
                },
            },
        ],
        "name": [
            {
                "use": "official",
                "family": person.birth_family_name,
                "given": list(person.given_names),
            }
        ],
        "gender": person.sex,
        "birthDate": person.birth_date.isoformat(),
    }
    resp = await hygie.mpi.put(
        "/fhir/Patient",
        params={"identifier": f"{system}|{value}"},
        json=body,
        headers={**hygie.headers, "Content-Type": "application/fhir+json"},
    )
    out.append(
        {
            "kind": "invalid-nir-api",
            "what": f"INS {bad_nir} (wrong control key) sent with PUT /fhir/Patient",
            "where": f"HTTP {resp.status_code} (FHIR OperationOutcome), nothing stored",
            "detail": _diagnostics(resp),
        }
    )
    # 2. the same mistake on the identity feed: refused by the index, dead-lettered
    ingest = PatientRecorded(
        identifier=PatientIdentifier(system=system, value=f"ERR{plan.seed:04d}02"),
        birth_family_name=person.birth_family_name,
        birth_given_names=person.given_names,
        sex=person.sex,  # type: ignore[arg-type]
        birth_date=person.birth_date,
        ins=InsIdentifier(matricule=bad_nir, oid=INS_DEMO_OID),
        identity_status="QUAL",
    )
    await hygie.record_patient(
        ingest, key=f"broken|{plan.seed}|nir-ingest", source="/hospital/nord/admissions"
    )
    await hygie.flush()
    out.append(
        {
            "kind": "invalid-nir-ingest",
            "what": f"INS {bad_nir} on hygie.ingest.patient.v1 "
            f"(identifier {system}|ERR{plan.seed:04d}02)",
            "where": "hygie.ingest.patient.v1.dlq (hygie dlq list), with the reason",
            "detail": "",
        }
    )
    # 3. a composition outside its template: a temperature of 48 °C (template: 25..45)
    comp = C.vital_signs(stay, 0) if stay.vitals else None
    if comp is not None:
        comp["uid"]["value"] = stay.uid("broken-vitals")
        temp = comp["content"][2]["data"]["events"][0]["data"]["items"][0]["value"]
        temp["magnitude"] = 48.0
        status, detail = await hygie.commit(reg.ehr_id, comp)
        out.append(
            {
                "kind": "composition-violates-template",
                "what": "vital signs with a body temperature of 48 °C "
                "(hygie.vital_signs.v1 allows 25..45 Cel)",
                "where": f"{detail.split(' ', 1)[0] if detail else status} from "
                f"POST /ehr/{reg.ehr_id}/composition, nothing stored",
                "detail": detail[4:] if detail else "",
            }
        )
    # 4. a diagnosis code that exists in no terminology: stored, then reported unmapped by OMOP
    comp = C.problem_list(stay, diagnoses=[("ICD10", "X99.9Z", "Code saisi par erreur")])
    comp["uid"]["value"] = stay.uid("broken-code")
    status, detail = await hygie.commit(reg.ehr_id, comp)
    out.append(
        {
            "kind": "unknown-code",
            "what": "diagnosis coded ICD10 X99.9Z (no such code)",
            "where": f"EHR store: {status} (composition {comp['uid']['value']}); OMOP: concept 0 "
            "and a row of GET /omop/unmapped",
            "detail": detail,
        }
    )
    return out


def _diagnostics(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:300]
    issues = body.get("issue") or []
    return "; ".join(
        f"{i.get('diagnostics', '')} ({', '.join(i.get('expression') or [])})" for i in issues
    )[:500]


def registration_summary(reg: Registration) -> dict[str, Any]:
    """What the tour shows of a registration (its site, IPP, EHR id, traits)."""
    p = reg.identity
    return {
        "site": reg.site.name,
        "system": reg.site.system,
        "ipp": reg.ipp,
        "ehr_id": reg.ehr_id,
        "family": p.used_family_name or p.birth_family_name,
        "birth_family": p.birth_family_name,
        "given": p.given_names[0],
        "birth_date": p.birth_date.isoformat(),
        "qualified": reg.qualified,
        "nir": p.nir if reg.qualified else None,
    }


def examples(plan: Plan) -> dict[str, Any]:
    """Live ids the tour prints: a patient with vital signs, a duplicate, a death."""
    out: dict[str, Any] = {}

    with_vitals = max(plan.stays, key=lambda s: len(s.vitals), default=None)
    if with_vitals is not None:
        out["patient"] = registration_summary(with_vitals.registration)
        out["vitals_uid"] = with_vitals.uid("vitals", 0)
    dup = next((p for p in plan.persons if len(p.registrations) > 1), None)
    if dup is not None:
        out["duplicate"] = [registration_summary(r) for r in dup.registrations]
        out["duplicate_error"] = dup.registrations[1].error
    twin = next((p for p in plan.persons if p.twin_of is not None), None)
    if twin is not None:
        sibling = next(p for p in plan.persons if p.index == twin.twin_of and p is not twin)
        out["twins"] = [
            registration_summary(sibling.registrations[0]),
            registration_summary(twin.registrations[0]),
        ]
    died = next((s for s in plan.stays if s.died), None)
    if died is not None:
        out["deceased"] = registration_summary(died.registration)
    qualified = next((r for r in plan.registrations if r.qualified), None)
    if qualified is not None:
        out["qualified"] = registration_summary(qualified)
    return out


async def wait_caught_up(
    settings: Settings, *, timeout: float = 600, started: float | None = None
) -> dict[str, Any]:
    """Poll the services' health (outbox backlog, consumer lag) and the OMOP status until
    nothing is left to deliver; seconds until OMOP and audit each reached lag 0."""
    started = started or time.monotonic()
    from hygie_platform.security import issue_token

    token = issue_token(settings, user="demo-hospital-admin", roles=["admin"], ttl_seconds=3600)
    headers = {"Authorization": f"Bearer {token}"}
    done: dict[str, float | None] = {"omop_projection": None, "audit": None, "platform": None}
    last: dict[str, Any] = {}
    stable = 0
    async with httpx.AsyncClient(timeout=10) as client:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pending: dict[str, Any] = {}
            for name in ("ehr", "patient_index", "terminology", "audit", "omop_projection"):
                try:
                    body = (await client.get(f"{settings.url_of(name)}/health")).json()
                except (httpx.HTTPError, ValueError):
                    continue  # a service that is not running has nothing to deliver
                lag = sum(int(c.get("lag") or 0) for c in body.get("consumers", []))
                backlog = int(body.get("outbox_backlog") or 0)
                if lag or backlog:
                    pending[name] = {"lag": lag, "outbox": backlog}
            omop_lag = await _omop_lag(client, settings, headers)
            if omop_lag:
                pending.setdefault("omop_projection", {})["generation_lag"] = omop_lag
            now = time.monotonic() - started
            for name in ("omop_projection", "audit"):
                if name not in pending and done[name] is None:
                    done[name] = round(now, 1)
                elif name in pending:
                    done[name] = None
            last = pending
            stable = stable + 1 if not pending else 0
            if stable >= 3:  # three quiet polls in a row: nothing in flight
                done["platform"] = round(now, 1)
                break
            await asyncio.sleep(1)
    return {"seconds_until_lag_0": done, "still_pending": last}


async def _omop_lag(client: httpx.AsyncClient, settings: Settings, headers: dict[str, str]) -> int:
    try:
        resp = await client.get(
            f"{settings.url_of('omop_projection')}/omop/status", headers=headers
        )
        body = resp.json()
    except (httpx.HTTPError, ValueError):
        return 0
    serving = body.get("serving")
    progress = body.get(f"g{serving}") if serving is not None else None
    if not isinstance(progress, dict):
        return 0
    return int(progress.get("lag") or 0)


def write_report(settings: Settings, report: DemoReport) -> Path:
    path = report_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    return path
