"""The demo hospital's plan: who is admitted where and when, and what is recorded during
each stay. Pure and deterministic: the same (patients, days, seed, until) gives the same
plan, ids included, so a re-run finds everything already there.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from .identities import Identity, make_identity, make_twin, registration_error

__all__ = [
    "ATC",
    "DIAGNOSES",
    "LAB_PANELS",
    "SITES",
    "BrokenInput",
    "Person",
    "Plan",
    "Registration",
    "Site",
    "Stay",
    "make_plan",
    "until_of",
]

#: identities are generated against a fixed date, so that a plan does not change with
#: the day it is made (idempotent re-runs); stays are placed before ``until``
IDENTITY_EPOCH = date(2026, 1, 1)
NAMESPACE = uuid.UUID("5b1c3e0e-4f0a-4d5e-8c1b-6879676965de")


@dataclass(frozen=True)
class Site:
    code: str
    name: str
    #: the IPP assigning authority (an OID of the hospital's own arc, demo only)
    system: str
    units: tuple[str, ...]


SITES = (
    Site(
        "nord",
        "Hôpital de la Croix-Rousse",
        "urn:oid:1.2.250.1.999.1.1",
        ("Cardiologie", "Pneumologie", "Médecine interne", "Urgences"),
    ),
    Site(
        "sud",
        "Centre hospitalier Lyon-Sud",
        "urn:oid:1.2.250.1.999.2.1",
        ("Gériatrie", "Chirurgie orthopédique", "Néphrologie", "Urgences"),
    ),
)

#: (CIM-10 code, label, SNOMED CT code or None)
DIAGNOSES = (
    ("I10", "Hypertension essentielle (primitive)", "59621000"),
    ("E11.9", "Diabète sucré de type 2, sans complication", "44054006"),
    ("J18.9", "Pneumopathie, sans précision", "233604007"),
    ("J20.9", "Bronchite aiguë, sans précision", "10509002"),
    ("J02.9", "Pharyngite aiguë, sans précision", "195662009"),
    ("I50.9", "Insuffisance cardiaque, sans précision", None),
    ("I48.9", "Fibrillation et flutter auriculaires, sans précision", None),
    ("N17.9", "Insuffisance rénale aiguë, sans précision", None),
    ("S72.00", "Fracture du col du fémur, fermée", None),
    ("J44.1", "Maladie pulmonaire obstructive chronique avec épisodes aigus", None),
    ("A41.9", "Sepsis, sans précision", None),
    ("I63.9", "Infarctus cérébral, sans précision", None),
)
#: SNOMED CT labels of the codes above (the problem-list wording)
SNOMED_LABELS = {
    "59621000": "Essential hypertension",
    "44054006": "Type 2 diabetes mellitus",
    "233604007": "Pneumonia",
    "10509002": "Acute bronchitis",
    "195662009": "Acute viral pharyngitis",
}
#: (ATC code, medicinal product, route, directions)
ATC = (
    ("N02BE01", "Paracétamol 1 g", "orale", "1 g toutes les 6 heures si douleur"),
    ("B01AB05", "Énoxaparine 4000 UI", "sous-cutanée", "1 injection par jour"),
    ("C03CA01", "Furosémide 40 mg", "orale", "1 comprimé le matin"),
    ("J01CR02", "Amoxicilline/acide clavulanique 1 g", "intraveineuse", "1 g toutes les 8 heures"),
    ("C09AA05", "Ramipril 5 mg", "orale", "1 comprimé par jour"),
    ("A10BA02", "Metformine 1000 mg", "orale", "1 comprimé matin et soir"),
    ("C07AB07", "Bisoprolol 2,5 mg", "orale", "1 comprimé par jour"),
    ("A02BC05", "Ésoméprazole 20 mg", "orale", "1 gélule le soir"),
    ("N02AX02", "Tramadol 50 mg", "orale", "1 gélule toutes les 8 heures si douleur"),
    ("B01AF01", "Rivaroxaban 20 mg", "orale", "1 comprimé par jour au repas"),
)
#: panel -> (LOINC, analyte, units, normal low, normal high, decimals)
LAB_PANELS = {
    "Numération formule sanguine": (
        ("718-7", "Hémoglobine", "g/dL", 12.0, 16.5, 1),
        ("6690-2", "Leucocytes", "10*3/uL", 4.0, 10.0, 1),
        ("777-3", "Plaquettes", "10*3/uL", 150.0, 400.0, 0),
    ),
    "Ionogramme sanguin, créatinine, glycémie": (
        ("2951-2", "Sodium", "mmol/L", 136.0, 145.0, 0),
        ("2823-3", "Potassium", "mmol/L", 3.5, 5.0, 1),
        ("2160-0", "Créatinine", "mg/dL", 0.6, 1.2, 2),
        ("2339-0", "Glucose", "mg/dL", 70.0, 110.0, 0),
    ),
}


@dataclass(frozen=True)
class Registration:
    """One identity record at one site's admission desk (an IPP)."""

    site: Site
    ipp: str
    identity: Identity
    #: INS-qualified (QUAL): the INS travels; else PROV
    qualified: bool
    #: the registration error of a duplicate (None for the first registration)
    error: str | None = None

    @property
    def ehr_id(self) -> str:
        return str(uuid.uuid5(NAMESPACE, f"ehr|{self.site.system}|{self.ipp}"))


@dataclass
class Stay:
    registration: Registration
    number: int
    admitted: datetime
    discharged: datetime | None
    emergency: bool
    unit: str
    died: bool
    diagnoses: list[tuple[str, str, str]] = field(default_factory=list)
    """(terminology, code, label) per diagnosis"""
    medications: list[tuple[str, str, str, str]] = field(default_factory=list)
    vitals: list[tuple[datetime, dict[str, float]]] = field(default_factory=list)
    labs: list[tuple[datetime, str, list[tuple[str, str, str, float]]]] = field(
        default_factory=list
    )

    def uid(self, kind: str, n: int = 0) -> str:
        """The deterministic uid of one composition of this stay."""
        key = f"{self.registration.site.system}|{self.registration.ipp}|{self.number}|{kind}|{n}"
        return str(uuid.uuid5(NAMESPACE, key))


@dataclass
class Person:
    index: int
    identity: Identity
    registrations: list[Registration]
    #: index of the person this one is the twin of
    twin_of: int | None = None


@dataclass(frozen=True)
class BrokenInput:
    """Input a real hospital produces that the platform must refuse or set aside."""

    kind: str  # invalid-nir-api | invalid-nir-ingest | composition-violates-template | unknown-code
    description: str


@dataclass
class Plan:
    persons: list[Person]
    stays: list[Stay]
    seed: int
    until: datetime

    @property
    def registrations(self) -> list[Registration]:
        return [r for p in self.persons for r in p.registrations]


def _ipp(seed: int, site: Site, n: int) -> str:
    """The site's patient number; the seed is part of it, so that two demo hospitals
    played on the same platform do not share patients."""
    return f"{site.code[0].upper()}{seed % 100:02d}{n:06d}"


def _duplicate(rng: random.Random, identity: Identity) -> tuple[str, Identity]:
    """A second registration of the same person: one typical error, or two (those are the
    ones the index cannot decide alone and puts in its review queue)."""
    error, variant = registration_error(rng, identity)
    if rng.random() < 0.5:
        second, variant = registration_error(rng, variant)
        if second != error:
            error = f"{error} + {second}"
    return error, variant


def _vitals(rng: random.Random, *, sick: float) -> dict[str, float]:
    systolic = round(rng.gauss(124 + 14 * sick, 14))
    return {
        "systolic": systolic,
        "diastolic": round(min(systolic - 25, rng.gauss(78, 10))),
        "pulse": round(rng.gauss(78 + 14 * sick, 11)),
        "temperature": round(min(max(rng.gauss(37.0 + 0.8 * sick, 0.45), 35.0), 41.5), 1),
        "spo2": round(min(100.0, rng.gauss(96.5 - 3 * sick, 1.6)), 0),
        "respiration": round(rng.gauss(16 + 5 * sick, 3)),
    }


def _lab_value(rng: random.Random, low: float, high: float, decimals: int, sick: float) -> float:
    mid, spread = (low + high) / 2, (high - low) / 2
    value = rng.gauss(mid + spread * 0.8 * sick * rng.choice((-1, 1)), spread * 0.7)
    return round(max(value, low * 0.3), decimals)


def make_plan(*, patients: int, days: int, seed: int, until: datetime) -> Plan:
    """The whole plan: persons and their registrations (with duplicates), stays with
    every observation, order and diagnosis."""
    rng = random.Random(seed)
    counters = {s.code: 0 for s in SITES}
    persons: list[Person] = []
    for i in range(patients):
        identity = make_identity(rng, today=IDENTITY_EPOCH)
        site = SITES[0] if rng.random() < 0.55 else SITES[1]
        counters[site.code] += 1
        qualified = rng.random() < 0.35
        regs = [Registration(site, _ipp(seed, site, counters[site.code]), identity, qualified)]
        roll = rng.random()
        if roll < 0.12:  # seen at the other site too, registered with a typical error
            other = SITES[1] if site is SITES[0] else SITES[0]
            counters[other.code] += 1
            error, variant = _duplicate(rng, identity)
            regs.append(
                Registration(other, _ipp(seed, other, counters[other.code]), variant, False, error)
            )
        elif roll < 0.15:  # a duplicate at the same desk
            counters[site.code] += 1
            error, variant = _duplicate(rng, identity)
            regs.append(
                Registration(site, _ipp(seed, site, counters[site.code]), variant, False, error)
            )
        persons.append(Person(i, identity, regs))
        if rng.random() < 0.02:  # a twin admitted at the same desk: a different person
            counters[site.code] += 1
            twin = make_twin(rng, identity)
            ipp = _ipp(seed, site, counters[site.code])
            persons.append(Person(i, twin, [Registration(site, ipp, twin, False)], twin_of=i))

    stays: list[Stay] = []
    start = until - timedelta(days=days)
    for person in persons:
        for number, reg in enumerate(person.registrations):
            if number > 0 and rng.random() < 0.3:
                continue  # a duplicate record without a stay of its own
            stays.append(_stay(rng, reg, number, start=start, until=until))
    # a death ends a person's stays; at most one death per person
    dead: set[int] = set()
    for stay in stays:
        key = id(stay.registration.identity)
        if stay.died and key in dead:
            stay.died = False
        if stay.died:
            dead.add(key)
    return Plan(persons, stays, seed, until)


def _stay(
    rng: random.Random, reg: Registration, number: int, *, start: datetime, until: datetime
) -> Stay:
    span = max((until - start).total_seconds(), 3600.0)
    admitted = start + timedelta(seconds=rng.uniform(0, span))
    admitted = admitted.replace(second=0, microsecond=0)
    emergency = rng.random() < 0.4
    los = (
        timedelta(hours=rng.uniform(6, 30))
        if emergency and rng.random() < 0.6
        else timedelta(days=rng.uniform(1, 10))
    )
    discharged: datetime | None = admitted + los
    if discharged is not None and discharged > until:
        discharged = None
    died = discharged is not None and rng.random() < 0.03
    unit = "Urgences" if emergency else rng.choice(reg.site.units[:-1])
    stay = Stay(reg, number, admitted, discharged, emergency, unit, died)
    sick = rng.random() ** 2 + (0.6 if died else 0.0)
    end = discharged or until
    t = admitted + timedelta(minutes=rng.randint(10, 50))
    while t < end:
        stay.vitals.append((t, _vitals(rng, sick=sick)))
        t += timedelta(hours=8)
    t = admitted + timedelta(hours=1)
    while t < end:
        for panel, analytes in LAB_PANELS.items():
            results = [
                (loinc, name, units, _lab_value(rng, lo, hi, dec, sick))
                for loinc, name, units, lo, hi, dec in analytes
            ]
            stay.labs.append((t, panel, results))
        t += timedelta(days=2)
    for code, label, snomed in rng.sample(DIAGNOSES, rng.randint(1, 3)):
        if snomed and rng.random() < 0.4:
            stay.diagnoses.append(("SNOMED-CT", snomed, SNOMED_LABELS[snomed]))
        else:
            stay.diagnoses.append(("ICD10", code, label))
    stay.medications = list(rng.sample(ATC, rng.randint(1, 4)))
    return stay


def until_of(day: date) -> datetime:
    """The end of the plan: midnight UTC starting ``day`` (everything recorded is past)."""
    return datetime.combine(day, time(0, 0), tzinfo=UTC)
