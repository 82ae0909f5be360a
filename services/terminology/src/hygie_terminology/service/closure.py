"""ConceptMap/$closure (FHIR R4 §ConceptMap operation $closure): a client keeps a
transitive closure table of the concepts it has seen; each call adds concepts and answers
the subsumption relationships that are new, as a ConceptMap (source the descendant,
target the ancestor, equivalence ``subsumes``: the target subsumes the source).

Subsumption is :func:`~.codes.subsumes` (OMOP concept ancestry, or a FHIR CodeSystem's
hierarchy) between codes of the same system; the table's version counts the calls that
changed it, and ``version`` asks for every entry added after that version (replay)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ..adapters.closure_store import ClosureStore
from ..domain.errors import NotFound, UnsupportedRequest
from .catalog import Catalog
from .codes import subsumes

__all__ = ["ClosureResult", "closure"]

#: Concepts one call may add (each is compared with every concept of its system).
MAX_NEW = 1_000


@dataclass(frozen=True)
class ClosureResult:
    name: str
    version: int
    entries: list[tuple[str, str, str]]  # (system, descendant, ancestor)


async def closure(
    cat: Catalog,
    *,
    name: str,
    concepts: list[tuple[str, str]],
    since: int | None = None,
) -> ClosureResult:
    """Initialise the table (no concepts, unknown name), add concepts, or replay."""
    store = ClosureStore(cat.conn)
    if not concepts and since is None and await store.create(name):
        return ClosureResult(name, 0, [])
    version = await store.lock(name)
    if version is None:
        raise NotFound(f"closure table {name!r} is not initialised (call with the name only)")
    if since is not None:
        if concepts:
            raise UnsupportedRequest("'version' replays a table: it takes no concept")
        return ClosureResult(name, version, await store.entries_since(name, since))
    if len(concepts) > MAX_NEW:
        raise UnsupportedRequest(f"at most {MAX_NEW} concepts per $closure call")
    by_system: dict[str, list[str]] = defaultdict(list)
    for system, code in dict.fromkeys(concepts):
        by_system[system].append(code)
    added: list[tuple[str, str]] = []
    pairs: list[tuple[str, str, str]] = []
    for system, codes in by_system.items():
        known = set(await store.concepts(name, system))
        new = [c for c in codes if c not in known]
        for i, code in enumerate(new):
            await subsumes(cat, system=system, code_a=code, code_b=code)  # NotFound if unknown
            for other in [*sorted(known), *new[:i]]:
                outcome = await subsumes(cat, system=system, code_a=code, code_b=other)
                if outcome == "subsumes":
                    pairs.append((system, other, code))
                elif outcome == "subsumed-by":
                    pairs.append((system, code, other))
        added += [(system, c) for c in new]
    if not added:
        return ClosureResult(name, version, [])
    await store.add(name, version + 1, added, pairs)
    return ClosureResult(name, version + 1, sorted(pairs))
