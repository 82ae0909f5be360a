"""ValueSet/$expand and ValueSet/$validate-code: stored ValueSets and implicit ones
(``<system>?fhir_vs``), compose include/exclude by system, concept list and filters
(is-a, descendent-of, is-not-a, =, in, regex), text filter, count/offset paging and
displayLanguage."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..adapters.expansion import ExpansionQuery, UnsupportedFilter
from ..adapters.expansion_store import ExpansionStore
from ..domain.errors import NoActiveRelease, NotFound, UnknownSystem, UnsupportedRequest
from ..domain.valueset import Include, InvalidValueSet, ValueSetDefinition, implicit_value_set
from ..domain.valueset import parse_compose as parse_compose
from .catalog import Catalog, FhirSystem, OmopSystem
from .lookup import display_in, find_concept

__all__ = [
    "Expansion",
    "ExpansionItem",
    "expand",
    "precompute_expansions",
    "resolve_value_set",
    "value_set_contains",
]

MAX_COUNT = 10_000
#: Runs a piece of work in a transaction of its own, after the request.
Later = Callable[[Callable[[AsyncConnection], Awaitable[None]]], None]
#: Expansions larger than this are materialised at first use (per release)...
MATERIALISE_ABOVE = 10_000
#: ... up to this size (a whole large vocabulary is paged by top-N sorts instead).
MATERIALISE_MAX = 1_000_000


@dataclass(frozen=True)
class ExpansionItem:
    system: str
    code: str
    display: str | None
    inactive: bool
    concept_id: int | None


@dataclass
class Expansion:
    definition: ValueSetDefinition
    total: int
    offset: int
    items: list[ExpansionItem] = field(default_factory=list)


async def resolve_value_set(
    cat: Catalog,
    *,
    url: str | None,
    version: str | None = None,
    resource: dict[str, Any] | None = None,
) -> ValueSetDefinition:
    """The definition to expand: given inline, implicit in the url, or stored."""
    try:
        if resource is not None:
            return parse_compose(resource)
        if not url:
            raise UnsupportedRequest("a ValueSet url (or an inline valueSet) is required")
        implicit = implicit_value_set(url)
        if implicit is not None:
            return implicit
        stored = await cat.fhir.get("ValueSet", url, version)
        if stored is None:
            raise NotFound(f"ValueSet {url!r} is not known")
        return parse_compose(stored.content)
    except InvalidValueSet as exc:
        raise UnsupportedRequest(str(exc)) from None


MAX_DEPTH = 8


async def _select(cat: Catalog, q: ExpansionQuery, inc: Include, depth: int = 0) -> str:
    """The SELECT of one include: its system's codes intersected with its value sets."""
    parts = [await _system_select(cat, q, inc)] if inc.system else []
    for url in inc.value_sets:
        if depth >= MAX_DEPTH:
            raise UnsupportedRequest(f"value set {url}: includes nest deeper than {MAX_DEPTH}")
        definition = await resolve_value_set(cat, url=url)
        includes = [await _select(cat, q, i, depth + 1) for i in definition.includes]
        excludes = [await _select(cat, q, e, depth + 1) for e in definition.excludes]
        parts.append(q.members(includes, excludes))
    return " INTERSECT ".join(f"({p})" for p in parts)


async def _system_select(cat: Catalog, q: ExpansionQuery, inc: Include) -> str:
    assert inc.system is not None
    ref = await cat.resolve(inc.system, inc.version)
    conditions: list[str] = []
    if isinstance(ref, OmopSystem):
        code_expr = "c.concept_code" if ref.vocabulary_id else "CAST(c.concept_id AS text)"
        for f in inc.filters:
            if f.op in ("is-a", "descendent-of", "is-not-a"):
                concept = await find_concept(cat, ref, f.value)
                if concept is None:
                    raise NotFound(f"filter {f.op} {f.value!r}: not a code of {inc.system}")
                sub = cat.vocab.descendants_sql(
                    ancestry=await cat.vocab.has_ancestry(),
                    include_self=f.op != "descendent-of",
                    param=q.bind(concept.concept_id)[1:],
                )
                neg = "NOT " if f.op == "is-not-a" else ""
                conditions.append(f"c.concept_id {neg}IN ({sub})")
            else:
                conditions.append(q.omop_condition(f.property, f.op, f.value, code_expr=code_expr))
        assert cat.release is not None
        return q.omop_select(
            schema=cat.release.schema,
            system=ref.system,
            vocabulary_id=ref.vocabulary_id,
            concepts=inc.concepts,
            conditions=conditions,
        )
    assert isinstance(ref, FhirSystem)
    for f in inc.filters:
        if f.op in ("is-a", "descendent-of"):
            sub = q.fhir_descendants(ref.system, ref.version, f.value, include_self=f.op == "is-a")
            conditions.append(f"f.code IN ({sub})")
        elif f.op == "regex" and f.property in ("code", "concept"):
            conditions.append(f"f.code ~ {q.bind(f.value)}")
        else:
            raise UnsupportedFilter(f"filter {f.property} {f.op} on a FHIR CodeSystem")
    return q.fhir_select(
        system=ref.system, version=ref.version, concepts=inc.concepts, conditions=conditions
    )


async def _query(
    cat: Catalog, definition: ValueSetDefinition, extra: Include | None = None
) -> tuple[ExpansionQuery, list[str], list[str]]:
    q = ExpansionQuery()
    try:
        includes = [await _select(cat, q, inc) for inc in definition.includes]
        excludes = [await _select(cat, q, exc) for exc in definition.excludes]
    except UnsupportedFilter as exc:
        raise UnsupportedRequest(str(exc)) from None
    return q, includes, excludes


async def expand(
    cat: Catalog,
    definition: ValueSetDefinition,
    *,
    text_filter: str | None = None,
    count: int = 1000,
    offset: int = 0,
    display_language: str | None = None,
    materialise_above: int | None = None,
    later: Later | None = None,
) -> Expansion:
    """One page of the expansion, with the total. An expansion of more than
    ``materialise_above`` codes is stored at its first request (per release, up to
    ``MATERIALISE_MAX`` codes), in this transaction or, given ``later``, in its own after
    the answer; later requests read their page by position."""
    if count < 0 or offset < 0:
        raise UnsupportedRequest("count and offset must not be negative")
    count = min(count, MAX_COUNT)
    if materialise_above is None:
        materialise_above = MATERIALISE_ABOVE
    store = ExpansionStore(cat.conn)
    key = None
    if text_filter is None:
        release_id = cat.release.id if cat.release else None
        key = hashlib.sha256(repr((definition, release_id)).encode()).hexdigest()
        stored = await store.find(key)
        if stored is not None:
            expansion_id, total = stored
            rows = await store.page(expansion_id, count=count, offset=offset)
            items = [ExpansionItem(r[0], r[1], r[2], r[4], r[3]) for r in rows]
            return await _translated(
                cat, Expansion(definition, total, offset, items), display_language
            )
    q, includes, excludes = await _query(cat, definition)
    members = q.members(includes, excludes, text_filter=text_filter)
    rows = list(
        (await cat.conn.execute(text(q.page(members, count=count, offset=offset)), q.params)).all()
    )
    if rows:
        total = rows[0].total
    else:
        total = (
            await cat.conn.execute(text(f"SELECT count(*) FROM ({members}) x"), q.params)
        ).scalar_one()
    items = [ExpansionItem(r.system, r.code, r.display, r.inactive, r.concept_id) for r in rows]
    # The page was a top-N sort; a large expansion is worth storing in order once.
    if key is not None and materialise_above < total <= MATERIALISE_MAX:
        release_id = cat.release.id if cat.release else None

        async def store_it(conn: AsyncConnection) -> None:
            await ExpansionStore(conn).materialise(key, release_id, members, q.params)

        if later is None:
            await store_it(cat.conn)
        else:
            later(store_it)
    return await _translated(cat, Expansion(definition, total, offset, items), display_language)


async def _translated(
    cat: Catalog, expansion: Expansion, display_language: str | None
) -> Expansion:
    """Displays in ``displayLanguage`` where the release has a synonym in it."""
    items = expansion.items
    if display_language and not display_language.lower().startswith("en"):
        translated = await display_in(
            cat, [i.concept_id for i in items if i.concept_id is not None], display_language
        )
        items = [
            ExpansionItem(
                i.system,
                i.code,
                translated.get(i.concept_id or -1, i.display),
                i.inactive,
                i.concept_id,
            )
            for i in items
        ]
    expansion.items = items
    return expansion


async def precompute_expansions(cat: Catalog, *, above: int = MATERIALISE_ABOVE) -> list[str]:
    """Store the large expansions of the stored ValueSets (each url's latest version) on
    the catalog's release; the urls stored. A value set that cannot be expanded on this
    release is left to fail when it is requested."""
    done = []
    urls = sorted({r.url for r in await cat.fhir.search("ValueSet")})
    for url in urls:
        try:
            async with cat.conn.begin_nested():  # a failure rolls back this one only
                definition = await resolve_value_set(cat, url=url)
                result = await expand(cat, definition, count=0, materialise_above=above)
        except (NotFound, UnsupportedRequest, UnknownSystem, NoActiveRelease, DBAPIError):
            continue
        if above < result.total <= MATERIALISE_MAX:
            done.append(url)
    return done


async def value_set_contains(
    cat: Catalog, definition: ValueSetDefinition, *, system: str | None, code: str
) -> ExpansionItem | None:
    """The member of the value set with this code (and system), if any."""
    q, includes, excludes = await _query(cat, definition)
    inner = q.members(includes, excludes)
    cond = f"x.code = {q.bind(code)}"
    if system:
        cond += f" AND x.system = {q.bind(system)}"
    row = (
        await cat.conn.execute(text(f"SELECT * FROM ({inner}) x WHERE {cond} LIMIT 1"), q.params)
    ).one_or_none()
    if row is None:
        return None
    return ExpansionItem(row.system, row.code, row.display, row.inactive, row.concept_id)
