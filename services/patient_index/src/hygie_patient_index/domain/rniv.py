"""RNIV identity statuses (Référentiel National d'IdentitoVigilance) and their transitions.

A status is the combination of two attestations of the strict traits:

- *retrieved*: the traits (and the INS) come from the INSi teleservice;
- *validated*: the traits were checked against a high-trust identity document.

PROV has neither, RECUP the first, VALI the second, QUAL both. INSi retrieval moves
PROV→RECUP and VALI→QUAL; a document check moves PROV→VALI and RECUP→QUAL.

Rule applied when a strict trait is edited (documented choice): both attestations were
given for the *old* traits, so neither holds for the new ones and the identity drops to
PROV; its INS is kept but, no longer QUAL, it is neither shared nor used to match until
the identity is re-qualified. A source system that re-attests the new traits in the same
update (a status change, or a newer validation date) keeps the status it asserts.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "STRICT_TRAITS",
    "IdentityStatus",
    "after_document_check",
    "after_insi_retrieval",
    "after_strict_trait_edit",
    "reconcile_status",
]

#: The strict traits of the RNIV (plus the INS matricule itself).
STRICT_TRAITS: tuple[str, ...] = (
    "birth_family_name",
    "birth_given_names",
    "first_given_name",
    "birth_date",
    "sex",
    "birth_place_code",
)


class IdentityStatus(StrEnum):
    """The four RNIV statuses, from the least to the most trusted."""

    PROV = "PROV"
    RECUP = "RECUP"
    VALI = "VALI"
    QUAL = "QUAL"

    @property
    def retrieved(self) -> bool:
        """The traits come from the INSi teleservice."""
        return self in (IdentityStatus.RECUP, IdentityStatus.QUAL)

    @property
    def validated(self) -> bool:
        """The traits were checked against a high-trust identity document."""
        return self in (IdentityStatus.VALI, IdentityStatus.QUAL)

    @property
    def rank(self) -> int:
        """Trust order used by survivorship: QUAL > RECUP = VALI > PROV."""
        return {"PROV": 0, "RECUP": 1, "VALI": 1, "QUAL": 2}[self.value]

    @classmethod
    def of(cls, *, retrieved: bool, validated: bool) -> IdentityStatus:
        if retrieved and validated:
            return cls.QUAL
        if retrieved:
            return cls.RECUP
        return cls.VALI if validated else cls.PROV


def after_insi_retrieval(status: IdentityStatus) -> IdentityStatus:
    """INSi retrieval (or verification) succeeded: PROV→RECUP, VALI→QUAL."""
    return IdentityStatus.of(retrieved=True, validated=status.validated)


def after_document_check(status: IdentityStatus) -> IdentityStatus:
    """A high-trust identity document was checked: PROV→VALI, RECUP→QUAL."""
    return IdentityStatus.of(retrieved=status.retrieved, validated=True)


def after_strict_trait_edit(status: IdentityStatus) -> IdentityStatus:
    """A strict trait was edited without re-attestation: back to PROV (see module doc)."""
    return IdentityStatus.PROV


def reconcile_status(
    previous: IdentityStatus | None,
    asserted: IdentityStatus,
    *,
    strict_changed: bool,
    reattested: bool,
) -> IdentityStatus:
    """The status stored for an update of a source record.

    The source system performs INSi calls and document checks, so its asserted status is
    kept, except when it edits a strict trait of an attested identity while asserting the
    same status without re-attesting: then the edit rule applies.
    """
    if previous is None or not strict_changed or asserted is IdentityStatus.PROV:
        return asserted
    if asserted != previous or reattested:
        return asserted
    return after_strict_trait_edit(previous)
