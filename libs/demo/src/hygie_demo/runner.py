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
from .broken import INS_DEMO_OID, send_broken_input
from .catchup import wait_caught_up
from .client import Hygie, Outcome, ensure_templates
from .hospital import Plan, Registration, Stay

__all__ = [
    "INS_DEMO_OID",
    "DemoReport",
    "registration_summary",
    "report_path",
    "run_demo",
    "wait_caught_up",
]

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


Step = Callable[[Hygie], Awaitable[tuple[str, str]]]


def _stay_writes(stay: Stay) -> tuple[list[tuple[str, Callable[[], dict[str, Any]]]], Step | None]:
    """The compositions a stay creates, in the order the hospital makes them (kind, build),
    and the discharge (a new version of the encounter) when the stay is over."""
    creations: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("encounter", lambda: C.encounter(stay, discharged=False)),
        ("medication_orders", lambda: C.medication_orders(stay)),
    ]
    for n in range(len(stay.vitals)):
        weight = _weight(stay) if n == 0 else None
        creations.append(
            ("vital_signs", lambda n=n, w=weight: C.vital_signs(stay, n, weight=w))  # type: ignore[misc]
        )
    for n in range(len(stay.labs)):
        creations.append(("laboratory", lambda n=n: C.laboratory(stay, n)))  # type: ignore[misc]
    discharge: Step | None = None
    if stay.discharged is not None:
        creations.append(("problem_list", lambda: C.problem_list(stay)))
        ehr = stay.registration.ehr_id

        def discharge(h: Hygie) -> Awaitable[tuple[str, str]]:
            return h.update(ehr, C.encounter(stay, discharged=True), version=1)

    return creations, discharge


async def run_demo(
    settings: Settings,
    plan: Plan,
    *,
    concurrency: int = 12,
    console: Console | None = None,
    broken: bool = True,
    batch: bool = True,
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
    writes = {id(s): _stay_writes(s) for s in plan.stays}
    deaths = {id(s.registration): s.discharged for s in plan.stays if s.died}
    regs = plan.registrations
    total = len(regs) * 2 + len(deaths)
    total += sum(len(c) + (d is not None) for c, d in writes.values())
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
                creations, discharge = writes[id(stay)]
                ehr = stay.registration.ehr_id
                status = "conflict"
                if batch:  # one CONTRIBUTION per stay: all its documents, atomically
                    docs = [build() for _, build in creations]
                    async with sem:
                        status, _ = await hygie.contribute(ehr, docs)
                        # a re-run: the stay's last document there means all are (atomic
                        # contributions; one by one, they are committed in this order)
                        if status == "conflict" and await hygie.exists(
                            ehr, docs[-1]["uid"]["value"]
                        ):
                            status = "existing"
                    if status in ("created", "existing"):
                        for kind, _ in creations:
                            report.outcome.add(kind, status)
                        progress.advance(task, len(creations))
                if status not in ("created", "existing"):  # one by one
                    for kind, build in creations:
                        async with sem:
                            status, detail = await hygie.commit(ehr, build())
                        report.outcome.add(kind, status, detail)
                        progress.advance(task)
                if discharge is not None:
                    async with sem:
                        status, detail = await discharge(hygie)
                    report.outcome.add("encounter_discharge", status, detail)
                    progress.advance(task)

            await asyncio.gather(*(play(s) for s in plan.stays))
            progress.update(task, description="done")
        report.writes = total
        report.seconds = time.monotonic() - started
        if broken:
            report.broken = await send_broken_input(hygie, plan)
    report.examples = examples(plan)
    return report


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


def write_report(settings: Settings, report: DemoReport) -> Path:
    path = report_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    return path
