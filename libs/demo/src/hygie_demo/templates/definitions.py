"""The operational templates of the demo hospital, written with the builder.

Archetype ids and node codes are those of the international CKM (the OMOP projection's
mappings read the same paths); the constraints — units, ranges, code lists,
occurrences — are ours. ``python -m hygie_demo.templates`` rewrites the shipped ``.opt``
files from these definitions (a test checks that they agree).
"""

from __future__ import annotations

from ..builder import (
    UNBOUNDED,
    AdminEntry,
    Cluster,
    Coded,
    Composition,
    DateTime,
    Element,
    Evaluation,
    Instruction,
    Observation,
    Proportion,
    Quantity,
    Template,
    Text,
)

__all__ = [
    "ENCOUNTER",
    "LABORATORY",
    "MEDICATION",
    "PROBLEMS",
    "TEMPLATES",
    "VITAL_SIGNS",
]

# --- entries ---------------------------------------------------------------------------
BLOOD_PRESSURE = Observation(
    "openEHR-EHR-OBSERVATION.blood_pressure.v2",
    "Blood pressure",
    history=("at0001", "History"),
    event=("at0006", "Any event"),
    data=("at0003", "blood pressure"),
    items=(
        Element("at0004", "Systolic", Quantity({"mm[Hg]": (0, 1000)}, "125")),
        Element("at0005", "Diastolic", Quantity({"mm[Hg]": (0, 1000)}, "125")),
    ),
)
PULSE = Observation(
    "openEHR-EHR-OBSERVATION.pulse.v2",
    "Pulse/Heart beat",
    history=("at0002", "History"),
    event=("at0003", "Any event"),
    data=("at0001", "structure"),
    items=(Element("at0004", "Rate", Quantity({"/min": (0, 1000)}, "382")),),
)
BODY_TEMPERATURE = Observation(
    "openEHR-EHR-OBSERVATION.body_temperature.v2",
    "Body temperature",
    history=("at0002", "History"),
    event=("at0003", "Any event"),
    data=("at0001", "Tree"),
    items=(Element("at0004", "Temperature", Quantity({"Cel": (25, 45)}, "127"), (1, 1)),),
)
BODY_WEIGHT = Observation(
    "openEHR-EHR-OBSERVATION.body_weight.v2",
    "Body weight",
    history=("at0002", "History"),
    event=("at0003", "Any event"),
    data=("at0001", "Simple"),
    items=(Element("at0004", "Weight", Quantity({"kg": (0, 1000)}, "124"), (1, 1)),),
)
PULSE_OXIMETRY = Observation(
    "openEHR-EHR-OBSERVATION.pulse_oximetry.v1",
    "Pulse oximetry",
    history=("at0001", "Event Series"),
    event=("at0002", "Any event"),
    data=("at0003", "Tree"),
    items=(Element("at0006", "SpO₂", Proportion(type=2, lower=0, upper=100)),),
)
RESPIRATION = Observation(
    "openEHR-EHR-OBSERVATION.respiration.v2",
    "Respiration",
    history=("at0001", "History"),
    event=("at0002", "Any event"),
    data=("at0003", "List"),
    items=(Element("at0004", "Rate", Quantity({"/min": (0, 200)}, "382")),),
)

#: result units the laboratory panels use (UCUM), with plausible-value ranges
LAB_UNITS: dict[str, tuple[float | None, float | None]] = {
    "g/dL": (0, 30),
    "10*3/uL": (0, 2000),
    "mmol/L": (0, 300),
    "mg/dL": (0, 2000),
    "%": (0, 100),
}
LABORATORY_TEST_RESULT = Observation(
    "openEHR-EHR-OBSERVATION.laboratory_test_result.v1",
    "Laboratory test result",
    history=("at0001", "Event Series"),
    event=("at0002", "Any event"),
    data=("at0003", "Tree"),
    items=(
        Element("at0005", "Test name", (Coded("LOINC"), Text()), (1, 1)),
        Cluster(
            "at0000",
            "Laboratory analyte result",
            archetype_id="openEHR-EHR-CLUSTER.laboratory_test_analyte.v1",
            occurrences=(0, UNBOUNDED),
            items=(
                Element("at0024", "Analyte name", Coded("LOINC"), (1, 1)),
                Element("at0001", "Analyte result", Quantity(LAB_UNITS), (0, 1)),
                Element("at0004", "Reference range guidance", Text()),
            ),
        ),
        Element("at0057", "Conclusion", Text()),
    ),
)
PROBLEM_DIAGNOSIS = Evaluation(
    "openEHR-EHR-EVALUATION.problem_diagnosis.v1",
    "Problem/Diagnosis",
    data=("at0001", "structure"),
    items=(
        Element(
            "at0002",
            "Problem/Diagnosis name",
            Coded("ICD10"),
            (1, 1),
            "The diagnosis, coded in CIM-10 (ICD10) or SNOMED CT (SNOMED-CT).",
        ),
        Element("at0077", "Date/time of onset", DateTime()),
        Element("at0030", "Date/time of resolution", DateTime()),
        Element(
            "at0073",
            "Diagnostic certainty",
            Coded("local", {"at0074": "Suspected", "at0075": "Probable", "at0076": "Confirmed"}),
        ),
    ),
)
MEDICATION_ORDER = Instruction(
    "openEHR-EHR-INSTRUCTION.medication_order.v3",
    "Medication order",
    activity=("at0001", "Order"),
    description=("at0002", "Tree"),
    items=(
        Element("at0070", "Medication item", Coded("ATC"), (1, 1)),
        Element("at0091", "Route", Text()),
        Element("at0009", "Overall directions description", Text()),
        Cluster(
            "at0113",
            "Order details",
            items=(
                Element("at0012", "Order start date/time", DateTime()),
                Element("at0013", "Order stop date/time", DateTime()),
            ),
        ),
    ),
)
ADMISSION = AdminEntry(
    "openEHR-EHR-ADMIN_ENTRY.admission.v0",
    "Admission",
    data=("at0001", "Tree"),
    items=(
        Element("at0002", "Date/time of admission", DateTime(), (1, 1)),
        Element(
            "at0003",
            "Admission type",
            Coded("local", {"at0004": "Emergency", "at0005": "Elective"}),
        ),
        Element("at0006", "Care unit", Text()),
    ),
)
DISCHARGE = AdminEntry(
    "openEHR-EHR-ADMIN_ENTRY.discharge_summary.v0",
    "Discharge",
    data=("at0001", "Tree"),
    items=(
        Element("at0002", "Date/time of discharge", DateTime(), (1, 1)),
        Element(
            "at0003",
            "Discharge disposition",
            Coded("local", {"at0004": "Home", "at0005": "Transfer", "at0006": "Deceased"}),
        ),
    ),
)
DEATH_SUMMARY = Evaluation(
    "openEHR-EHR-EVALUATION.death_summary.v1",
    "Death summary",
    data=("at0001", "Tree"),
    items=(Element("at0092", "Date/time of death", DateTime(), (1, 1)),),
    occurrences=(0, 1),
)

# --- templates -------------------------------------------------------------------------
VITAL_SIGNS = Template(
    template_id="hygie.vital_signs.v1",
    concept="Vital signs",
    uid="6f0a7a8e-1d0c-5b8e-9a41-2f1c6c0a0001",
    purpose="A round of vital signs at the bedside.",
    composition=Composition(
        "openEHR-EHR-COMPOSITION.report.v1",
        "Vital signs",
        content=(
            BLOOD_PRESSURE,
            PULSE,
            BODY_TEMPERATURE,
            BODY_WEIGHT,
            PULSE_OXIMETRY,
            RESPIRATION,
        ),
    ),
)
LABORATORY = Template(
    template_id="hygie.laboratory_results.v1",
    concept="Laboratory results",
    uid="6f0a7a8e-1d0c-5b8e-9a41-2f1c6c0a0002",
    purpose="The results of a laboratory panel, one analyte per LOINC code.",
    composition=Composition(
        "openEHR-EHR-COMPOSITION.report-result.v1",
        "Laboratory results",
        content=(LABORATORY_TEST_RESULT,),
    ),
)
PROBLEMS = Template(
    template_id="hygie.problem_list.v1",
    concept="Problem/diagnosis list",
    uid="6f0a7a8e-1d0c-5b8e-9a41-2f1c6c0a0003",
    purpose="The diagnoses of a stay (CIM-10 for the PMSI, SNOMED CT for the problem list).",
    composition=Composition(
        "openEHR-EHR-COMPOSITION.problem_list.v2",
        "Problem list",
        content=(PROBLEM_DIAGNOSIS,),
        category="431",
    ),
)
MEDICATION = Template(
    template_id="hygie.medication_orders.v1",
    concept="Medication orders",
    uid="6f0a7a8e-1d0c-5b8e-9a41-2f1c6c0a0004",
    purpose="Medication orders of a stay, the medicinal product coded in ATC.",
    composition=Composition(
        "openEHR-EHR-COMPOSITION.report.v1",
        "Medication orders",
        content=(MEDICATION_ORDER,),
    ),
)
ENCOUNTER = Template(
    template_id="hygie.encounter.v1",
    concept="Hospital stay",
    uid="6f0a7a8e-1d0c-5b8e-9a41-2f1c6c0a0005",
    purpose="A hospital stay: admission, then discharge (a new version), and a death if any.",
    composition=Composition(
        "openEHR-EHR-COMPOSITION.encounter.v1",
        "Encounter",
        content=(ADMISSION, DISCHARGE, DEATH_SUMMARY),
    ),
)

TEMPLATES: tuple[Template, ...] = (VITAL_SIGNS, LABORATORY, PROBLEMS, MEDICATION, ENCOUNTER)
