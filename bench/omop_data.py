"""The OMOP benchmark's data: encounter compositions of the mapped archetypes (five kinds
rotating, ~4.4 OMOP rows each), the translations of their codes, and their production to
the topics (patients first, then 50 compositions per patient)."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import date, timedelta
from typing import Any

from rich.console import Console

PER_PATIENT = 50
IPP = "urn:oid:1.2.250.1.71.4.2.7"
KEY = b"bench-pseudonym-key-0123456789abcd"

LOINC = [f"{2000 + i}-{i % 10}" for i in range(40)]
ICD10 = [f"E{10 + i}.{i % 10}" for i in range(30)]
ATC = [f"A10B{chr(65 + i % 26)}{i:02d}" for i in range(20)]
SNOMED = [str(80146002 + i) for i in range(20)]


def _concepts() -> dict[tuple[str, str], Any]:
    """Translations of the codes used (one in 20 left unmapped, as in real feeds)."""
    from hygie_omop_projection.domain.mapper import Concept

    table: dict[tuple[str, str], Any] = {("UCUM", "mg/dL"): Concept(8840, 8840)}
    for vocabulary, codes, base in (
        ("LOINC", LOINC, 3_000_000),
        ("ICD10", ICD10, 200_000),
        ("ATC", ATC, 1_500_000),
        ("SNOMED", SNOMED, 4_100_000),
    ):
        for i, code in enumerate(codes):
            if i % 20 != 19:
                table[(vocabulary, code)] = Concept(base + i, base + i)
    return table


def _when(day: date, hour: int) -> str:
    return f"{day.isoformat()}T{hour:02d}:{(hour * 7) % 60:02d}:00Z"


LAB = "openEHR-EHR-CLUSTER.laboratory_test_analyte.v1"
DIAGNOSIS = "openEHR-EHR-EVALUATION.problem_diagnosis.v1"
ORDER = "openEHR-EHR-INSTRUCTION.medication_order.v3"


def _obs(archetype: str, ids: tuple[str, str, str], items: list[Any], when: str) -> Any:
    history, event, tree = ids
    return {
        "_type": "OBSERVATION",
        "archetype_node_id": archetype,
        "data": {
            "_type": "HISTORY",
            "archetype_node_id": history,
            "events": [
                {
                    "_type": "POINT_EVENT",
                    "archetype_node_id": event,
                    "time": {"_type": "DV_DATE_TIME", "value": when},
                    "data": {"_type": "ITEM_TREE", "archetype_node_id": tree, "items": items},
                }
            ],
        },
    }


def clinical_composition(k: int, rng: random.Random, day: date) -> dict[str, Any]:
    """One encounter composition of the k-th kind (mod 5) for a day."""
    from hygie_omop_projection.testing import coded, composition, element, quantity

    when = _when(day, 8 + k % 10)
    dt = {"_type": "DV_DATE_TIME", "value": when}
    kind = k % 5
    if kind == 0:  # vital signs: 6 measurements
        entries = [
            _obs("openEHR-EHR-OBSERVATION.blood_pressure.v2", ("at0001", "at0006", "at0003"),
                 [element("at0004", quantity(rng.randint(95, 170), "mm[Hg]")),
                  element("at0005", quantity(rng.randint(55, 100), "mm[Hg]"))], when),
            _obs("openEHR-EHR-OBSERVATION.pulse.v2", ("at0002", "at0003", "at0001"),
                 [element("at0004", quantity(rng.randint(50, 120), "/min"))], when),
            _obs("openEHR-EHR-OBSERVATION.body_temperature.v2", ("at0002", "at0003", "at0001"),
                 [element("at0004", quantity(round(rng.uniform(36, 39.5), 1), "Cel"))], when),
            _obs("openEHR-EHR-OBSERVATION.pulse_oximetry.v1", ("at0001", "at0002", "at0003"),
                 [element("at0006", {"_type": "DV_PROPORTION", "numerator": rng.randint(88, 100),
                                     "denominator": 100, "type": 2})], when),
            _obs("openEHR-EHR-OBSERVATION.respiration.v2", ("at0001", "at0002", "at0003"),
                 [element("at0004", quantity(rng.randint(10, 30), "/min"))], when),
        ]  # fmt: skip
    elif kind == 1:  # anthropometry: 3 measurements
        weight, height = round(rng.uniform(45, 120), 1), rng.randint(150, 195)
        entries = [
            _obs("openEHR-EHR-OBSERVATION.body_weight.v2", ("at0002", "at0003", "at0001"),
                 [element("at0004", quantity(weight, "kg"))], when),
            _obs("openEHR-EHR-OBSERVATION.height.v2", ("at0001", "at0002", "at0003"),
                 [element("at0004", quantity(height, "cm"))], when),
            _obs("openEHR-EHR-OBSERVATION.body_mass_index.v2", ("at0001", "at0002", "at0003"),
                 [element("at0004", quantity(round(weight / (height / 100) ** 2, 1), "kg/m2"))],
                 when),
        ]  # fmt: skip
    elif kind == 2:  # laboratory: 4 analytes, LOINC translated
        clusters = [
            {"_type": "CLUSTER", "archetype_node_id": LAB,
             "items": [element("at0024", coded("LOINC", rng.choice(LOINC))),
                       element("at0001", quantity(round(rng.uniform(50, 200), 1), "mg/dL"))]}
            for _ in range(4)
        ]  # fmt: skip
        entries = [
            _obs("openEHR-EHR-OBSERVATION.laboratory_test_result.v1",
                 ("at0001", "at0002", "at0003"), clusters, when)
        ]  # fmt: skip
    elif kind == 3:  # diagnosis + procedure
        entries = [
            {"_type": "EVALUATION", "archetype_node_id": DIAGNOSIS,
             "data": {"_type": "ITEM_TREE", "archetype_node_id": "at0001", "items": [
                 element("at0002", coded("ICD10", rng.choice(ICD10))),
                 element("at0077", dt)]}},
            {"_type": "ACTION", "archetype_node_id": "openEHR-EHR-ACTION.procedure.v1",
             "time": dt, "description": {"_type": "ITEM_TREE", "archetype_node_id": "at0001",
                                         "items": [element("at0002", coded("SNOMED-CT",
                                                                           rng.choice(SNOMED)))]}},
        ]  # fmt: skip
    else:  # medication order + statement
        entries = [
            {"_type": "INSTRUCTION", "archetype_node_id": ORDER,
             "activities": [{"_type": "ACTIVITY", "archetype_node_id": "at0001",
                             "description": {"_type": "ITEM_TREE", "archetype_node_id": "at0002",
                                             "items": [element("at0070",
                                                               coded("ATC", rng.choice(ATC)))]}}]},
            _obs("openEHR-EHR-OBSERVATION.medication_statement.v0", ("at0001", "at0002", "at0003"),
                 [element("at0006", coded("SNOMED-CT", rng.choice(SNOMED)))], when),
        ]  # fmt: skip
    end = _when(day, 8 + k % 10 + 1)
    return composition(*entries, start=when, end=end, setting="238")


async def _produce(settings: Any, n: int, console: Console) -> tuple[int, int]:
    """N/50 patients then N compositions (50 per patient, in patient order per EHR key)."""
    from hygie_contracts.patient import PatientIdentifier, PatientRegistered
    from hygie_omop_projection.testing import committed
    from hygie_platform import kafka
    from hygie_platform.envelope import envelope_for

    producer = kafka.producer(settings)
    await producer.start()
    rng = random.Random(9)
    patients = max(1, n // PER_PATIENT)
    sent = 0
    try:
        pending = []
        for p in range(patients):
            event = PatientRegistered(
                patient_id=uuid.UUID(int=p + 1),
                identifiers=(PatientIdentifier(system=IPP, value=f"P{p}"),),
                birth_date=date(1940 + p % 60, 1 + p % 12, 1 + p % 28),
                sex="female" if p % 2 else "male",
            )
            env = envelope_for(event, source="/hygie/patient_index")
            topic = settings.topic(event.topic)
            pending.append(
                await producer.send(topic, key=env.key, value=env.data, headers=env.headers())
            )
        await asyncio.gather(*pending)
        pending = []
        for i in range(n):
            p = i % patients
            day = date(2015, 1, 1) + timedelta(days=(i // patients) * 30 + p % 30)
            body = clinical_composition(i, rng, day)
            event = committed(uuid.UUID(int=10**9 + p), body, voi=uuid.UUID(int=2 * 10**9 + i),
                              subject=(IPP, f"P{p}"))  # fmt: skip
            env = envelope_for(event, source="/hygie/ehr")
            pending.append(
                await producer.send(
                    settings.topic(event.topic), key=env.key, value=env.data,
                    headers=env.headers(),
                )
            )  # fmt: skip
            sent += len(env.data)
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending = []
                console.print(f"  produced {i + 1:,} compositions", end="\r")
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return patients, sent
