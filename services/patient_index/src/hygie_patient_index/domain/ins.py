"""INS (Identifiant National de Santé): the matricule (NIR or NIA) and its OID.

Référentiel INS: the matricule is a NIR (numéro d'inscription au répertoire) or a NIA
(numéro identifiant d'attente), 13 characters followed by a 2-digit control key
``97 - (N mod 97)``, where N is the 13 first characters read as a number, Corsica's
departments 2A and 2B counting as 19 and 18. The NIR used for billing (often a parent's)
shares the INS-NIR OID: it is told apart by its identifier type and is never an INS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "INS_OIDS",
    "Ins",
    "InsKind",
    "InvalidNir",
    "nir_key",
    "parse_nir",
]


class InsKind(StrEnum):
    """The four INS assigning authorities (OIDs of the Référentiel INS)."""

    NIR = "1.2.250.1.213.1.4.8"
    NIA = "1.2.250.1.213.1.4.9"
    NIR_TEST = "1.2.250.1.213.1.4.10"
    NIR_DEMO = "1.2.250.1.213.1.4.11"


INS_OIDS: frozenset[str] = frozenset(k.value for k in InsKind)

_SHAPE = re.compile(r"^[1-478]\d{4}(\d{2}|2A|2B)\d{6}\d{2}$")


class InvalidNir(ValueError):
    """A matricule that is not a well-formed NIR/NIA (shape or control key)."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


def _numeric_body(body: str) -> int:
    """The 13 first characters as a number (2A → 19, 2B → 18, Référentiel INS)."""
    dept = body[5:7]
    if dept == "2A":
        body = body[:5] + "19" + body[7:]
    elif dept == "2B":
        body = body[:5] + "18" + body[7:]
    if not body.isdigit():
        raise InvalidNir("nir-format", f"{body!r} is not made of digits (2A/2B aside)")
    return int(body)


def nir_key(body: str) -> int:
    """The control key of the 13 first characters of a NIR/NIA."""
    if len(body) != 13:
        raise InvalidNir("nir-length", f"a NIR body has 13 characters, got {len(body)}")
    return 97 - (_numeric_body(body) % 97)


def parse_nir(raw: str) -> str:
    """The canonical matricule (upper case, no spaces), or InvalidNir naming the rule broken."""
    value = re.sub(r"[\s.]", "", raw).upper()
    if len(value) != 15:
        raise InvalidNir("nir-length", f"a NIR has 15 characters, got {len(value)}")
    if not _SHAPE.match(value):
        raise InvalidNir(
            "nir-format",
            f"{value!r} is not a NIR: sex digit, year, month, "
            "department (digits, 2A or 2B), commune, order and key expected",
        )
    month = int(value[3:5])
    if not (1 <= month <= 12 or 20 <= month <= 42 or 50 <= month <= 99):
        raise InvalidNir("nir-format", f"month {value[3:5]} of NIR {value!r} is not valid")
    expected = nir_key(value[:13])
    if int(value[13:]) != expected:
        raise InvalidNir("nir-key", f"NIR control key is {value[13:]}, expected {expected:02d}")
    return value


@dataclass(frozen=True, slots=True)
class Ins:
    """An INS: the matricule with the OID of its authority (validated on construction)."""

    matricule: str
    oid: str

    def __post_init__(self) -> None:
        if self.oid not in INS_OIDS:
            raise InvalidNir(
                "ins-oid",
                f"OID {self.oid} is not an INS authority "
                f"(expected one of {', '.join(sorted(INS_OIDS))})",
            )
        object.__setattr__(self, "matricule", parse_nir(self.matricule))

    @property
    def kind(self) -> InsKind:
        return InsKind(self.oid)

    @property
    def system(self) -> str:
        """The FHIR identifier system (``urn:oid:...``)."""
        return f"urn:oid:{self.oid}"

    @property
    def sex_digit(self) -> int:
        return int(self.matricule[0])

    @property
    def birth_year_2(self) -> str:
        return self.matricule[1:3]

    @property
    def birth_month(self) -> int | None:
        """The birth month, or None when the NIR uses a pseudo-month (unknown month)."""
        month = int(self.matricule[3:5])
        return month if 1 <= month <= 12 else None
