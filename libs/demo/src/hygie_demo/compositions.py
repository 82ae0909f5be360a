"""Canonical compositions of a stay, one builder per template of the demo hospital."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import rm
from .hospital import Stay
from .templates import ENCOUNTER, LABORATORY, MEDICATION, PROBLEMS, VITAL_SIGNS

__all__ = [
    "encounter",
    "laboratory",
    "medication_orders",
    "problem_list",
    "vital_signs",
]

Json = dict[str, Any]
BP = "openEHR-EHR-OBSERVATION.blood_pressure.v2"
PULSE = "openEHR-EHR-OBSERVATION.pulse.v2"
TEMP = "openEHR-EHR-OBSERVATION.body_temperature.v2"
WEIGHT = "openEHR-EHR-OBSERVATION.body_weight.v2"
SPO2 = "openEHR-EHR-OBSERVATION.pulse_oximetry.v1"
RESP = "openEHR-EHR-OBSERVATION.respiration.v2"
LAB = "openEHR-EHR-OBSERVATION.laboratory_test_result.v1"
ANALYTE = "openEHR-EHR-CLUSTER.laboratory_test_analyte.v1"


def _composer(stay: Stay) -> str:
    return f"{stay.unit}, {stay.registration.site.name}"


def _observation(
    archetype_id: str,
    name: str,
    history: tuple[str, str],
    event: tuple[str, str],
    data: tuple[str, str],
    when: datetime,
    items: list[Json],
) -> Json:
    out = rm.entry_common("OBSERVATION", archetype_id, name)
    out["data"] = {
        "_type": "HISTORY",
        "name": rm.text(history[1]),
        "archetype_node_id": history[0],
        "origin": rm.date_time(when),
        "events": [
            {
                "_type": "POINT_EVENT",
                "name": rm.text(event[1]),
                "archetype_node_id": event[0],
                "time": rm.date_time(when),
                "data": rm.tree(data[0], data[1], items),
            }
        ],
    }
    return out


def vital_signs(stay: Stay, n: int, *, weight: float | None = None) -> Json:
    """The n-th round of vital signs of a stay (weight on the first round)."""
    when, v = stay.vitals[n]
    q = rm.quantity
    content = [
        _observation(
            BP,
            "Blood pressure",
            ("at0001", "History"),
            ("at0006", "Any event"),
            ("at0003", "blood pressure"),
            when,
            [
                rm.element("at0004", "Systolic", q(v["systolic"], "mm[Hg]")),
                rm.element("at0005", "Diastolic", q(v["diastolic"], "mm[Hg]")),
            ],
        ),
        _observation(
            PULSE,
            "Pulse/Heart beat",
            ("at0002", "History"),
            ("at0003", "Any event"),
            ("at0001", "structure"),
            when,
            [rm.element("at0004", "Rate", q(v["pulse"], "/min"))],
        ),
        _observation(
            TEMP,
            "Body temperature",
            ("at0002", "History"),
            ("at0003", "Any event"),
            ("at0001", "Tree"),
            when,
            [rm.element("at0004", "Temperature", q(v["temperature"], "Cel"))],
        ),
        _observation(
            SPO2,
            "Pulse oximetry",
            ("at0001", "Event Series"),
            ("at0002", "Any event"),
            ("at0003", "Tree"),
            when,
            [rm.element("at0006", "SpO₂", rm.proportion(v["spo2"]))],
        ),
        _observation(
            RESP,
            "Respiration",
            ("at0001", "History"),
            ("at0002", "Any event"),
            ("at0003", "List"),
            when,
            [rm.element("at0004", "Rate", q(v["respiration"], "/min"))],
        ),
    ]
    if weight is not None:
        content.append(
            _observation(
                WEIGHT,
                "Body weight",
                ("at0002", "History"),
                ("at0003", "Any event"),
                ("at0001", "Simple"),
                when,
                [rm.element("at0004", "Weight", q(weight, "kg"))],
            )
        )
    return rm.composition(
        uid=stay.uid("vitals", n),
        archetype_id=VITAL_SIGNS.composition.archetype_id,
        template_id=VITAL_SIGNS.template_id,
        name="Vital signs",
        composer=_composer(stay),
        start=when,
        content=content,
        facility=stay.registration.site.name,
    )


def laboratory(stay: Stay, n: int) -> Json:
    """The n-th laboratory panel of a stay: one analyte cluster per LOINC code."""
    when, panel, results = stay.labs[n]
    analytes = [
        rm.cluster(
            ANALYTE,
            "Laboratory analyte result",
            [
                rm.element("at0024", "Analyte name", rm.coded(name, "LOINC", loinc)),
                rm.element("at0001", "Analyte result", rm.quantity(value, units)),
            ],
            archetype=True,
        )
        for loinc, name, units, value in results
    ]
    content = [
        _observation(
            LAB,
            "Laboratory test result",
            ("at0001", "Event Series"),
            ("at0002", "Any event"),
            ("at0003", "Tree"),
            when,
            [rm.element("at0005", "Test name", rm.text(panel)), *analytes],
        )
    ]
    return rm.composition(
        uid=stay.uid("lab", n),
        archetype_id=LABORATORY.composition.archetype_id,
        template_id=LABORATORY.template_id,
        name="Laboratory results",
        composer=f"Laboratoire de biologie, {stay.registration.site.name}",
        start=when,
        content=content,
        facility=stay.registration.site.name,
    )


def _evaluation(archetype_id: str, name: str, items: list[Json], tree: tuple[str, str]) -> Json:
    out = rm.entry_common("EVALUATION", archetype_id, name)
    out["data"] = rm.tree(tree[0], tree[1], items)
    return out


def problem_list(stay: Stay, *, diagnoses: list[tuple[str, str, str]] | None = None) -> Json:
    """The diagnoses of a stay (CIM-10 or SNOMED CT), dated from the admission."""
    entries = [
        _evaluation(
            "openEHR-EHR-EVALUATION.problem_diagnosis.v1",
            "Problem/Diagnosis",
            [
                rm.element("at0002", "Problem/Diagnosis name", rm.coded(label, term, code)),
                rm.element("at0077", "Date/time of onset", rm.date_time(stay.admitted)),
                rm.element(
                    "at0073", "Diagnostic certainty", rm.coded("Confirmed", "local", "at0076")
                ),
            ],
            ("at0001", "structure"),
        )
        for term, code, label in (diagnoses if diagnoses is not None else stay.diagnoses)
    ]
    when = stay.discharged or stay.admitted
    return rm.composition(
        uid=stay.uid("problems"),
        archetype_id=PROBLEMS.composition.archetype_id,
        template_id=PROBLEMS.template_id,
        name="Problem list",
        composer=_composer(stay),
        start=when,
        content=entries,
        category="431",
        facility=stay.registration.site.name,
    )


def medication_orders(stay: Stay) -> Json:
    """The medication orders written at admission (ATC), stopped at discharge."""
    entries = []
    for atc, product, route, directions in stay.medications:
        details = [rm.element("at0012", "Order start date/time", rm.date_time(stay.admitted))]
        if stay.discharged is not None:
            details.append(
                rm.element("at0013", "Order stop date/time", rm.date_time(stay.discharged))
            )
        entry = rm.entry_common(
            "INSTRUCTION", "openEHR-EHR-INSTRUCTION.medication_order.v3", "Medication order"
        )
        entry["narrative"] = rm.text(f"{product} — {directions}")
        entry["activities"] = [
            {
                "_type": "ACTIVITY",
                "name": rm.text("Order"),
                "archetype_node_id": "at0001",
                "timing": {"_type": "DV_PARSABLE", "value": "R/P1D", "formalism": "timing"},
                "action_archetype_id": "/.*/",
                "description": rm.tree(
                    "at0002",
                    "Tree",
                    [
                        rm.element("at0070", "Medication item", rm.coded(product, "ATC", atc)),
                        rm.element("at0091", "Route", rm.text(route)),
                        rm.element("at0009", "Overall directions description", rm.text(directions)),
                        rm.cluster("at0113", "Order details", details),
                    ],
                ),
            }
        ]
        entries.append(entry)
    return rm.composition(
        uid=stay.uid("medication"),
        archetype_id=MEDICATION.composition.archetype_id,
        template_id=MEDICATION.template_id,
        name="Medication orders",
        composer=_composer(stay),
        start=stay.admitted,
        content=entries,
        facility=stay.registration.site.name,
    )


def _admin(archetype_id: str, name: str, items: list[Json]) -> Json:
    out = rm.entry_common("ADMIN_ENTRY", archetype_id, name)
    out["data"] = rm.tree("at0001", "Tree", items)
    return out


def encounter(stay: Stay, *, discharged: bool) -> Json:
    """The stay: version 1 at admission; version 2 adds the discharge (and a death)."""
    kind = (
        rm.coded("Emergency", "local", "at0004")
        if stay.emergency
        else rm.coded("Elective", "local", "at0005")
    )
    content = [
        _admin(
            "openEHR-EHR-ADMIN_ENTRY.admission.v0",
            "Admission",
            [
                rm.element("at0002", "Date/time of admission", rm.date_time(stay.admitted)),
                rm.element("at0003", "Admission type", kind),
                rm.element("at0006", "Care unit", rm.text(stay.unit)),
            ],
        )
    ]
    end = stay.discharged if discharged else None
    if end is not None:
        disposition = (
            rm.coded("Deceased", "local", "at0006")
            if stay.died
            else rm.coded("Home", "local", "at0004")
        )
        content.append(
            _admin(
                "openEHR-EHR-ADMIN_ENTRY.discharge_summary.v0",
                "Discharge",
                [
                    rm.element("at0002", "Date/time of discharge", rm.date_time(end)),
                    rm.element("at0003", "Discharge disposition", disposition),
                ],
            )
        )
        if stay.died:
            content.append(
                _evaluation(
                    "openEHR-EHR-EVALUATION.death_summary.v1",
                    "Death summary",
                    [rm.element("at0092", "Date/time of death", rm.date_time(end))],
                    ("at0001", "Tree"),
                )
            )
    return rm.composition(
        uid=stay.uid("encounter"),
        archetype_id=ENCOUNTER.composition.archetype_id,
        template_id=ENCOUNTER.template_id,
        name="Encounter",
        composer=_composer(stay),
        start=stay.admitted,
        end=end,
        content=content,
        setting="227" if stay.emergency else "232",
        facility=stay.registration.site.name,
    )
