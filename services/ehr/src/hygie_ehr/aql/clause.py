"""The FROM clause being built: its row sources, the joins that produce them, and the
documents joined only when a path reads them (see ``sources``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .binds import Binds

__all__ = ["Doc", "FromClause", "Piece", "Source"]


@dataclass
class Doc:
    """The ``object_version`` row holding a composition's JSON, joined when first used."""

    alias: str
    join: str
    needed: bool = False


@dataclass
class Source:
    variable: str | None
    rm_type: str
    kind: str  # ehr | entry | json | status | version
    alias: str
    value: str = ""  # SQL of its canonical JSON (jsonb)
    ehr: str = ""  # SQL of its EHR id
    doc: Doc | None = None
    root: str = ""  # SQL of the whole composition JSON an entry lies in
    bound: bool = True  # False under NOT CONTAINS: not selectable
    implicit: bool = False  # an EHR whose table is joined only when a path needs it

    def value_sql(self) -> str:
        if self.doc is not None:
            self.doc.needed = True
        return self.value


@dataclass
class Piece:
    join: str  # JOIN | LEFT JOIN
    item: str
    on: str
    doc: Doc | None = None


@dataclass
class FromClause:
    binds: Binds
    ehr_scope: str | None = None  # SQL of the EHR every root is limited to
    pieces: list[Piece] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    sources: dict[str, Source] = field(default_factory=dict)
    counter: list[int] = field(default_factory=lambda: [0])
    deferred: list[Doc] = field(default_factory=list)  # joined after every piece, if needed

    def alias(self, prefix: str) -> str:
        self.counter[0] += 1
        return f"{prefix}{self.counter[0]}"

    def render(self) -> str:
        parts: list[str] = []
        for i, piece in enumerate(self.pieces):
            if i == 0:
                if piece.join == "JOIN":
                    parts.append(f"FROM {piece.item}")
                    if piece.on != "true":
                        self.where.insert(0, piece.on)
                else:
                    parts.append(
                        f"FROM (VALUES (1)) AS one(x) {piece.join} {piece.item} ON {piece.on}"
                    )
            else:
                parts.append(f"{piece.join} {piece.item} ON {piece.on}")
            if piece.doc is not None and piece.doc.needed:
                parts.append(f"{piece.join} {piece.doc.join}")
        parts.extend(f"JOIN {doc.join}" for doc in self.deferred if doc.needed)
        return "\n".join(parts)
