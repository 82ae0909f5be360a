"""Canonical URLs and codes of the FHIR representation (FHIR R4, FR Core, IHE)."""

from __future__ import annotations

from ...domain.ins import InsKind

MPI_SYSTEM = "https://hygie.health/fhir/sid/patient-index"
MPI_TAG_SYSTEM = "https://hygie.health/fhir/CodeSystem/mpi-record-kind"
FR_CORE = "https://hl7.fr/ig/fhir/core/StructureDefinition/"
IDENTITY_RELIABILITY = FR_CORE + "fr-core-identity-reliability"
BIRTH_LIST_GIVEN_NAME = FR_CORE + "fr-core-birth-list-given-name"
INSEE_CODE = FR_CORE + "fr-core-address-insee-code"
BIRTH_PLACE = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace"
RELIABILITY_CS = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-identity-reliability"
IDENTIFIER_TYPE_CS = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
INSEE_CS = "https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM"

#: INS identifier type codes (FR Core) per INS authority.
INS_TYPE = {
    InsKind.NIR: "INS-NIR",
    InsKind.NIA: "INS-NIA",
    InsKind.NIR_TEST: "INS-NIR-TEST",
    InsKind.NIR_DEMO: "INS-NIR-DEMO",
}
INS_TYPE_CODES = frozenset(INS_TYPE.values())
#: Identifier type of the NIR used for billing (shares the INS-NIR OID, is not an INS).
BILLING_NIR_TYPES = frozenset({"NH", "NIR"})

#: Domain field → FHIRPath of the Patient element it comes from (OperationOutcome).
EXPRESSIONS = {
    "identifier": "Patient.identifier",
    "ins": "Patient.identifier.where(type.coding.code.startsWith('INS'))",
    "birth_family_name": "Patient.name.where(use='official').family",
    "birth_given_names": "Patient.name.where(use='official').given",
    "sex": "Patient.gender",
    "birth_date": "Patient.birthDate",
    "death_date": "Patient.deceasedDateTime",
    "birth_place_code": f"Patient.extension('{BIRTH_PLACE}')",
    "status": f"Patient.extension('{IDENTITY_RELIABILITY}')",
    "link": "Patient.link",
}
