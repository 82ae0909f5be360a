"""CodeSystem/$validate-code, ValueSet/$validate-code and CodeSystem/$subsumes."""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.errors import NotFound, UnknownSystem
from ..domain.valueset import ValueSetDefinition
from .catalog import Catalog, OmopSystem
from .expand import value_set_contains
from .lookup import find_concept, lookup

__all__ = ["Validation", "subsumes", "validate_in_code_system", "validate_in_value_set"]


@dataclass(frozen=True)
class Validation:
    result: bool
    message: str | None = None
    display: str | None = None


def _display_matches(given: str, names: list[str]) -> bool:
    norm = " ".join(given.split()).lower()
    return any(" ".join(n.split()).lower() == norm for n in names if n)


async def validate_in_code_system(
    cat: Catalog, *, system: str, code: str, display: str | None = None, version: str | None = None
) -> Validation:
    """Whether the code is in the code system (and the display one of its names)."""
    try:
        found = await lookup(cat, system=system, code=code, version=version)
    except UnknownSystem:
        return Validation(False, f"unknown code system {system!r}")
    except NotFound:
        return Validation(False, f"unknown code {code!r} in {system}")
    names = [found.display or "", *(d.value for d in found.designations)]
    if display is not None and not _display_matches(display, names):
        return Validation(
            False,
            f"display {display!r} is not a display of {system}|{code} (expected {found.display!r})",
            found.display,
        )
    inactive = any(p.code == "inactive" and p.value for p in found.properties)
    return Validation(True, f"{system}|{code} is inactive" if inactive else None, found.display)


async def validate_in_value_set(
    cat: Catalog,
    definition: ValueSetDefinition,
    *,
    system: str | None,
    code: str,
    display: str | None = None,
) -> Validation:
    """Whether the code is a member of the value set."""
    try:
        member = await value_set_contains(cat, definition, system=system, code=code)
    except UnknownSystem as exc:
        return Validation(False, str(exc))
    if member is None:
        where = f"{system}|{code}" if system else code
        return Validation(False, f"{where} is not in value set {definition.url}")
    if display is not None and not _display_matches(display, [member.display or ""]):
        # The display may be a designation (synonym) rather than the preferred name.
        known = (
            await validate_in_code_system(cat, system=member.system, code=code, display=display)
        ).result
        if not known:
            return Validation(
                False, f"display {display!r} is not a display of {code}", member.display
            )
    return Validation(True, None, member.display)


async def subsumes(cat: Catalog, *, system: str, code_a: str, code_b: str) -> str:
    """equivalent, subsumes (A is an ancestor of B), subsumed-by or not-subsumed."""
    if code_a == code_b:
        await lookup(cat, system=system, code=code_a)
        return "equivalent"
    ref = await cat.resolve(system)
    if isinstance(ref, OmopSystem):
        a = await find_concept(cat, ref, code_a)
        b = await find_concept(cat, ref, code_b)
        for code, concept in ((code_a, a), (code_b, b)):
            if concept is None:
                raise NotFound(f"code {code!r} is not in {system}")
        assert a is not None
        assert b is not None
        if await cat.vocab.subsumes(a.concept_id, b.concept_id):
            return "subsumes"
        if await cat.vocab.subsumes(b.concept_id, a.concept_id):
            return "subsumed-by"
        return "not-subsumed"
    for code in (code_a, code_b):
        if await cat.fhir.concept(ref.system, ref.version, code) is None:
            raise NotFound(f"code {code!r} is not in {system}")
    if await cat.fhir.is_descendant(ref.system, ref.version, code_a, code_b):
        return "subsumes"
    if await cat.fhir.is_descendant(ref.system, ref.version, code_b, code_a):
        return "subsumed-by"
    return "not-subsumed"
