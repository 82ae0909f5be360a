"""FROM: each variable of the containment tree becomes a row source.

- ``EHR`` → the ``ehr`` table; ``EHR_STATUS`` → its latest version;
- archetype roots (COMPOSITION, SECTION, ENTRYs, archetyped CLUSTERs...) → rows of the
  ``entry`` index (found by archetype id, EHR and composition version), their content
  read from the version's JSONB at the entry's ``json_path``;
- other RM classes (ELEMENT, HISTORY, EVENT_CONTEXT...) → the matching nodes under the
  containing object, by a JSON path query;
- ``VERSION`` → ``object_version`` rows (latest by default, or all versions).

Only the latest, non-deleted version of each composition is seen, unless a VERSION
container says otherwise. ``AND`` joins siblings, ``OR`` left-joins them and requires
one branch to match, ``NOT CONTAINS`` is a correlated ``NOT EXISTS``.
"""

from __future__ import annotations

from ..domain.rm import _SUBTYPES
from .ast import AndContains, Containment, ContainsExpr, Literal, NodePredicate, Parameter
from .binds import AqlError, Binds
from .clause import Doc, FromClause, Piece, Source
from .nodes import ehr_id_condition, node_filter
from .rmjson import ehr_json, version_json

__all__ = ["FromClause", "Source", "build_from", "concrete"]

#: RM types whose instances are always archetype roots, hence in the ``entry`` index
INDEXED = {
    "COMPOSITION", "SECTION", "OBSERVATION", "EVALUATION", "INSTRUCTION", "ACTION",
    "ADMIN_ENTRY", "GENERIC_ENTRY", "ENTRY", "CARE_ENTRY", "CONTENT_ITEM",
}  # fmt: skip


#: abstract RM classes AQL may name in FROM beyond those validation needs (``_SUBTYPES``)
_ABSTRACT = {
    "DATA_STRUCTURE": {"HISTORY", *_SUBTYPES["ITEM_STRUCTURE"]},
}


def concrete(rm_type: str) -> list[str]:
    """The RM type and every concrete type conforming to it."""
    return sorted({rm_type, *_SUBTYPES.get(rm_type, ()), *_ABSTRACT.get(rm_type, ())})


def build_from(expr: ContainsExpr, binds: Binds, ehr_scope: str | None) -> FromClause:
    """Compile the FROM clause (``AqlError``/``Unsupported`` for impossible containment)."""
    clause = FromClause(binds, ehr_scope)
    matched = _compile(clause, expr, None, left=False)
    if matched is not None:
        clause.where.append(matched)
    return clause


def _compile(
    clause: FromClause, expr: ContainsExpr, parent: Source | None, *, left: bool
) -> str | None:
    """Add the sources of ``expr``; answer the SQL saying "this part matched" when it is
    left-joined (an OR branch), None when the joins themselves require it."""
    if isinstance(expr, AndContains):
        a = _compile(clause, expr.left, parent, left=left)
        b = _compile(clause, expr.right, parent, left=left)
        return f"({a} AND {b})" if left else None
    if not isinstance(expr, Containment):  # OrContains
        a = _compile(clause, expr.left, parent, left=True)
        b = _compile(clause, expr.right, parent, left=True)
        either = f"({a} OR {b})"
        if left:
            return either
        clause.where.append(either)
        return None
    if _implicit_ehr(clause, expr, parent, left=left):
        return _through_ehr(clause, expr)
    source = _add_source(clause, expr, parent, left=left)
    matched = f"{source.alias}.{_key(source)} IS NOT NULL"
    if expr.contains is None:
        return matched if left else None
    if expr.negated:
        clause.where.append(_exists(clause, expr.contains, source, negate=True))
        return matched if left else None
    inner = _compile(clause, expr.contains, source, left=left)
    return f"({matched} AND {inner})" if left else None


def _implicit_ehr(
    clause: FromClause, expr: Containment, parent: Source | None, *, left: bool
) -> bool:
    """``EHR e CONTAINS <one container>``: every row of the container names its EHR (a
    foreign key), so the ``ehr`` table is joined only when a path reads more than its id."""
    return (
        expr.rm_type == "EHR"
        and parent is None
        and not left
        and not expr.negated
        and isinstance(expr.contains, Containment)
        and not clause.sources
    )


def _through_ehr(clause: FromClause, expr: Containment) -> None:
    """The EHR of ``EHR e CONTAINS x``: its id is x's EHR column, its predicate and the
    request's EHR scope test that column; its row is joined when a path needs it."""
    a = clause.alias("e")
    source = _register(
        clause, Source(expr.variable, "EHR", "ehr", a, ehr_json(a), "", implicit=True)
    )
    assert isinstance(expr.contains, Containment)
    before = len(clause.pieces)
    matched = _compile(clause, expr.contains, source, left=False)
    assert matched is None
    child = clause.pieces[before].item.rsplit(" ", 1)[1]  # the container's alias
    column = f"{child}.ehr_id"
    source.ehr = column
    if expr.predicate is not None:
        clause.where.append(ehr_id_condition(clause.binds, expr.predicate, column))
    if clause.ehr_scope:
        clause.where.append(f"{column} = {clause.ehr_scope}")
    source.doc = Doc(a, f"ehr {a} ON {a}.ehr_id = {column}")
    clause.deferred.append(source.doc)


def _exists(clause: FromClause, expr: ContainsExpr, parent: Source, *, negate: bool) -> str:
    sub = FromClause(clause.binds, None, counter=clause.counter)
    matched = _compile(sub, expr, parent, left=False)
    if matched is not None:
        sub.where.append(matched)
    for source in sub.sources.values():
        source.bound = False
        clause.sources.setdefault(source.variable or "", source)
    body = sub.render()
    where = " AND ".join(sub.where) or "true"
    return f"{'NOT ' if negate else ''}EXISTS (SELECT 1 {body} WHERE {where})"


def _key(source: Source) -> str:
    return {"ehr": "ehr_id", "entry": "vo_id", "json": "v", "status": "vo_id"}.get(
        source.kind, "vo_id"
    )


def _register(clause: FromClause, source: Source) -> Source:
    if source.variable:
        if source.variable in clause.sources:
            raise AqlError(f"the variable {source.variable} is defined twice in FROM")
        clause.sources[source.variable] = source
    return source


def _add_source(
    clause: FromClause, expr: Containment, parent: Source | None, *, left: bool
) -> Source:
    join = "LEFT JOIN" if left else "JOIN"
    rm = expr.rm_type
    if rm == "EHR":
        if parent is not None:
            raise AqlError("EHR can only be the outermost container")
        return _register(clause, _ehr(clause, expr, join))
    if rm == "FOLDER":
        if parent is not None and parent.kind not in ("ehr", "folder"):
            raise AqlError("FOLDER can only be contained in an EHR or a FOLDER")
        return _register(clause, _folder(clause, expr, parent, join))
    if rm == "VERSION":
        if parent is not None and parent.kind not in ("ehr", "folder"):
            raise AqlError("VERSION can only be contained in an EHR or a FOLDER")
        return _register(clause, _version(clause, expr, parent, join))
    if rm == "EHR_STATUS":
        if parent is not None and parent.kind not in ("ehr", "version"):
            raise AqlError("EHR_STATUS can only be contained in an EHR or a VERSION")
        return _register(clause, _status(clause, expr, parent, join))
    if parent is None or parent.kind in ("ehr", "version", "folder"):
        if rm in INDEXED or _archetyped(expr.predicate):
            return _register(clause, _entry_root(clause, expr, parent, join))
        implicit = _entry_root(clause, Containment("COMPOSITION", None), parent, join)
        return _register(clause, _json(clause, expr, implicit, join))
    if parent.kind == "entry" and (rm in INDEXED or _archetyped(expr.predicate)):
        return _register(clause, _entry_child(clause, expr, parent, join))
    return _register(clause, _json(clause, expr, parent, join))


def _archetyped(predicate: NodePredicate | None) -> bool:
    node = predicate.node_id if predicate else None
    return isinstance(node, Parameter) or (
        isinstance(node, Literal) and str(node.value).startswith("openEHR-")
    )


def _node_id(clause: FromClause, predicate: NodePredicate | None) -> str | None:
    if predicate is None or predicate.node_id is None:
        return None
    node = predicate.node_id
    value = clause.binds.parameter(node.name) if isinstance(node, Parameter) else node.value
    return clause.binds.text(str(value))


def _types(clause: FromClause, column: str, rm_type: str) -> str:
    names = ", ".join(clause.binds.text(t) for t in concrete(rm_type))
    return f"{column} IN ({names})"


def _predicate_tests(clause: FromClause, predicate: NodePredicate | None, value: str) -> list[str]:
    if predicate is None or not (predicate.tests or predicate.name or predicate.any_of):
        return []
    tests = NodePredicate(None, predicate.name, predicate.tests, predicate.any_of)
    return [node_filter(clause.binds, tests, value)]


def _ehr(clause: FromClause, expr: Containment, join: str) -> Source:
    a = clause.alias("e")
    source = Source(expr.variable, "EHR", "ehr", a, ehr_json(a), f"{a}.ehr_id")
    conds = ["true"]
    if expr.predicate is not None:
        conds = [ehr_id_condition(clause.binds, expr.predicate, f"{a}.ehr_id")]
    if clause.ehr_scope:
        conds.append(f"{a}.ehr_id = {clause.ehr_scope}")
    clause.pieces.append(Piece(join, f"ehr {a}", " AND ".join(conds)))
    return source


def _scope(clause: FromClause, parent: Source | None, column: str) -> list[str]:
    if parent is not None and parent.implicit:
        return []  # the EHR is this column (see _through_ehr)
    if parent is not None:
        return [f"{column} = {parent.ehr}"]
    return [f"{column} = {clause.ehr_scope}"] if clause.ehr_scope else []


def _latest(alias: str, vo_id: str, version: str) -> str:
    """The version is its object's latest, not deleted: a primary-key lookup per row (as a
    semi-join the planner, misled by the estimates, could rescan the whole table)."""
    return (
        f"{version} = (SELECT {alias}.latest_version FROM versioned_object {alias}"
        f" WHERE {alias}.vo_id = {vo_id} AND NOT {alias}.deleted)"
    )


def _entry_root(clause: FromClause, expr: Containment, parent: Source | None, join: str) -> Source:
    if _head(expr, parent):
        return _composition_head(clause, expr, parent, join)
    a = clause.alias("n")
    conds = _entry_conds(clause, expr, a)
    doc = None
    if parent is not None and parent.kind == "version":
        conds += [f"{a}.vo_id = {parent.alias}.vo_id", f"{a}.version = {parent.alias}.version"]
        root = f"{parent.alias}.data"
    else:
        conds += _scope(clause, parent, f"{a}.ehr_id")
        conds += _filed(clause, parent, f"{a}.vo_id")
        latest = clause.alias("l")
        if join != "JOIN":
            conds.append(_latest(latest, f"{a}.vo_id", f"{a}.version"))
        d = clause.alias("d")
        doc = Doc(d, f"object_version {d} ON {d}.vo_id = {a}.vo_id AND {d}.version = {a}.version")
        root = f"{d}.data"
    value = root if expr.rm_type == "COMPOSITION" else f"({root} #> {a}.json_path)"
    source = Source(expr.variable, expr.rm_type, "entry", a, value, f"{a}.ehr_id", doc, root)
    tested = value
    if doc is not None:  # the document is joined after this entry: read it in place
        x = clause.alias("x")
        own = (
            f"(SELECT {x}.data FROM object_version {x}"
            f" WHERE {x}.vo_id = {a}.vo_id AND {x}.version = {a}.version)"
        )
        tested = own if expr.rm_type == "COMPOSITION" else f"({own} #> {a}.json_path)"
    conds.extend(_predicate_tests(clause, expr.predicate, tested))
    clause.pieces.append(Piece(join, f"entry {a}", " AND ".join(conds), doc))
    if join == "JOIN" and doc is not None:  # latest, not deleted: a join the planner can
        clause.pieces.append(  # estimate (one versioned object per composition)
            Piece(
                "JOIN",
                f"versioned_object {latest}",
                f"{latest}.vo_id = {a}.vo_id AND {latest}.latest_version = {a}.version"
                f" AND NOT {latest}.deleted",
            )
        )
    return source


def _head(expr: Containment, parent: Source | None) -> bool:
    """A COMPOSITION without archetype id at the root (or in an EHR or FOLDER): read from
    the heads of compositions, one row each, its latest version (no ``entry`` row)."""
    if expr.rm_type != "COMPOSITION" or (parent is not None and parent.kind == "version"):
        return False
    return expr.predicate is None or expr.predicate.node_id is None


def _composition_head(
    clause: FromClause, expr: Containment, parent: Source | None, join: str
) -> Source:
    """Live compositions from ``versioned_object`` (migration ``ehr_0009`` indexes them by
    template): the columns the ``entry`` index would give (vo_id, version, ehr_id,
    template_id), the document joined when a path needs it."""
    a, d = clause.alias("n"), clause.alias("d")
    item = (
        "(SELECT vo_id, latest_version AS version, ehr_id, template_id FROM versioned_object"
        f" WHERE kind = 'COMPOSITION' AND NOT deleted) {a}"
    )
    conds = _scope(clause, parent, f"{a}.ehr_id") + _filed(clause, parent, f"{a}.vo_id")
    doc = Doc(d, f"object_version {d} ON {d}.vo_id = {a}.vo_id AND {d}.version = {a}.version")
    source = Source(expr.variable, "COMPOSITION", "entry", a, f"{d}.data", f"{a}.ehr_id", doc)
    source.root = f"{d}.data"
    x = clause.alias("x")
    own = (
        f"(SELECT {x}.data FROM object_version {x}"
        f" WHERE {x}.vo_id = {a}.vo_id AND {x}.version = {a}.version)"
    )
    conds.extend(_predicate_tests(clause, expr.predicate, own))
    clause.pieces.append(Piece(join, item, " AND ".join(conds) or "true", doc))
    return source


def _entry_conds(clause: FromClause, expr: Containment, a: str) -> list[str]:
    conds: list[str] = []
    if expr.rm_type == "COMPOSITION":
        conds.append(f"{a}.ord = 0")
    elif _implied(clause, expr):
        pass  # the archetype id says the RM type (a redundant test misleads the planner)
    elif expr.rm_type not in ("CLUSTER", "ITEM", "LOCATABLE") or expr.predicate is None:
        conds.append(_types(clause, f"{a}.rm_type", expr.rm_type))
    node_id = _node_id(clause, expr.predicate)
    if node_id is not None:
        conds.append(f"{a}.archetype_id = {node_id}")
    return conds


def _implied(clause: FromClause, expr: Containment) -> bool:
    """The archetype id of the predicate names an RM type conforming to the variable's
    (``openEHR-EHR-OBSERVATION.x.v1`` for ``OBSERVATION``)."""
    node = expr.predicate.node_id if expr.predicate else None
    if node is None:
        return False
    value = clause.binds.parameter(node.name) if isinstance(node, Parameter) else node.value
    parts = str(value).split("-")
    if len(parts) < 3 or parts[0] != "openEHR":
        return False
    return parts[2].split(".")[0] in concrete(expr.rm_type)


def _entry_child(clause: FromClause, expr: Containment, parent: Source, join: str) -> Source:
    a, p = clause.alias("n"), parent.alias
    conds = [*_entry_conds(clause, expr, a), f"{a}.vo_id = {p}.vo_id", f"{a}.version = {p}.version"]
    if parent.rm_type == "COMPOSITION":  # the root: every other entry is below it
        conds.append(f"{a}.ord > 0")
    else:  # strictly below the parent: its json_path is a proper prefix of ours
        conds += [
            f"cardinality({a}.json_path) > cardinality({p}.json_path)",
            f"{a}.json_path[1:cardinality({p}.json_path)] = {p}.json_path",
        ]
    value = f"({parent.root} #> {a}.json_path)"
    source = Source(
        expr.variable, expr.rm_type, "entry", a, value, f"{a}.ehr_id", parent.doc, parent.root
    )
    conds.extend(_predicate_tests(clause, expr.predicate, source.value_sql()))
    clause.pieces.append(Piece(join, f"entry {a}", " AND ".join(conds)))
    return source


def _json(clause: FromClause, expr: Containment, parent: Source, join: str) -> Source:
    """Nodes of an RM type below the parent's JSON. A node id (``atNNNN``) is local to its
    archetype: then the search does not enter archetypes nested in the parent."""
    a = clause.alias("j")
    binds = clause.binds
    node = expr.predicate.node_id if expr.predicate else None
    local = isinstance(node, Literal) and not str(node.value).startswith("openEHR-")
    types = ", ".join(binds.text(t) for t in concrete(expr.rm_type))
    query = f"aql_descendants({parent.value_sql()}, {'true' if local else 'false'})"
    source = Source(expr.variable, expr.rm_type, "json", a, f"{a}.v", parent.ehr, parent.doc)
    conds = [f"{a}.v ->> '_type' IN ({types})"]
    if "HISTORY" in concrete(expr.rm_type):  # kept as submitted: may have no _type
        conds = [f"({conds[0]} OR ({a}.v ->> '_type' IS NULL AND {a}.v ? 'events'))"]
    if expr.predicate is not None:
        conds.append(node_filter(binds, expr.predicate, f"{a}.v"))
    clause.pieces.append(Piece(join, f"LATERAL {query} AS {a}(v)", " AND ".join(conds)))
    return source


def _status(clause: FromClause, expr: Containment, parent: Source | None, join: str) -> Source:
    a = clause.alias("s")
    conds = [f"{a}.data IS NOT NULL"]
    if parent is not None and parent.kind == "version":
        item = f"object_version {a}"
        conds += [f"{a}.vo_id = {parent.alias}.vo_id", f"{a}.version = {parent.alias}.version"]
        k = clause.alias("k")
        conds.append(
            f"EXISTS (SELECT 1 FROM versioned_object {k} WHERE {k}.vo_id = {a}.vo_id"
            f" AND {k}.kind = 'EHR_STATUS')"
        )
    else:
        v = clause.alias("h")
        item = (
            f"(SELECT {v}.* FROM versioned_object {v}h JOIN object_version {v} ON"
            f" {v}.vo_id = {v}h.vo_id AND {v}.version = {v}h.latest_version"
            f" WHERE {v}h.kind = 'EHR_STATUS') {a}"
        )
        conds += _scope(clause, parent, f"{a}.ehr_id")
    node_id = _node_id(clause, expr.predicate)
    if node_id is not None:
        conds.append(f"{a}.archetype_node_id = {node_id}")
    conds.extend(_predicate_tests(clause, expr.predicate, f"{a}.data"))
    clause.pieces.append(Piece(join, item, " AND ".join(conds)))
    return Source(expr.variable, "EHR_STATUS", "status", a, f"{a}.data", f"{a}.ehr_id")


def _version(clause: FromClause, expr: Containment, parent: Source | None, join: str) -> Source:
    a = clause.alias("v")
    conds = _scope(clause, parent, f"{a}.ehr_id") + _filed(clause, parent, f"{a}.vo_id")
    conds = conds or ["true"]
    if expr.version_scope != "ALL_VERSIONS":
        head = clause.alias("l")
        conds.append(
            f"EXISTS (SELECT 1 FROM versioned_object {head} WHERE {head}.vo_id = {a}.vo_id"
            f" AND {head}.latest_version = {a}.version)"
        )
    clause.pieces.append(Piece(join, f"object_version {a}", " AND ".join(conds)))
    return Source(expr.variable, "VERSION", "version", a, version_json(a), f"{a}.ehr_id")


def _filed(clause: FromClause, parent: Source | None, vo_id: str) -> list[str]:
    """Under ``FOLDER f``: the versioned objects an item of ``f`` or of a folder below it
    references (OBJECT_REFs to compositions), each once."""
    if parent is None or parent.kind != "folder":
        return []
    i, p = clause.alias("i"), parent.alias
    return [
        f"{vo_id} IN (SELECT {i}.composition_id FROM folder_item {i}"
        f" WHERE {i}.vo_id = {p}.vo_id AND {i}.version = {p}.version"
        f" AND {i}.node_ord BETWEEN {p}.ord AND {p}.last_ord)"
    ]


def _folder(clause: FromClause, expr: Containment, parent: Source | None, join: str) -> Source:
    """FOLDERs of the latest version of each EHR's directory (``folder_node``: pre-order with
    nested-set bounds); ``FOLDER f1 CONTAINS FOLDER f2``: f2 strictly below f1."""
    a, d = clause.alias("f"), clause.alias("fd")
    if parent is not None and parent.kind == "folder":
        p = parent.alias
        conds = [
            f"{a}.vo_id = {p}.vo_id",
            f"{a}.version = {p}.version",
            f"{a}.ord > {p}.ord",
            f"{a}.ord <= {p}.last_ord",
        ]
    else:
        conds = _scope(clause, parent, f"{a}.ehr_id")
        conds.append(_latest(clause.alias("l"), f"{a}.vo_id", f"{a}.version"))
    node_id = _node_id(clause, expr.predicate)
    if node_id is not None:
        conds.append(f"{a}.archetype_node_id = {node_id}")
    value = (
        f"(SELECT {d}.data #> {a}.json_path FROM object_version {d}"
        f" WHERE {d}.vo_id = {a}.vo_id AND {d}.version = {a}.version)"
    )
    conds.extend(_predicate_tests(clause, expr.predicate, value))
    clause.pieces.append(Piece(join, f"folder_node {a}", " AND ".join(conds)))
    return Source(expr.variable, "FOLDER", "folder", a, value, f"{a}.ehr_id")
