"""Declarative mappings: one YAML file per archetype (in the spirit of OMOCL).

A mapping names an archetype and lists rules; each rule makes OMOP rows of one table from
the nodes of that archetype found in a composition. Adding a mapping is adding a file.

```yaml
archetype_id: openEHR-EHR-OBSERVATION.body_weight.v2
version: 1
rules:
  - table: measurement
    each: /data[at0002]/events          # one row per event (paths relative to the entry)
    value: data[at0001]/items[at0004]   # ELEMENT holding the value
    concept_id: 3025315                 # constant standard concept (LOINC 29463-7) ...
    source_value: LOINC 29463-7
    # ... or `concept: <path to a coded value>`, translated by the terminology service
    # `within: "**/items[openEHR-EHR-CLUSTER.x.v1]"`: one row per sub-node of each event
    units: {kg: 9529, g: 8504}          # UCUM unit -> unit concept (else translated)
    start: time                         # default: the event time, else the context start
    start_fallback: false               # true: an absent ``start`` falls back to that default
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["BUILTIN_MAPPINGS", "Mapping", "MappingError", "Rule", "load_mappings"]

BUILTIN_MAPPINGS = Path(__file__).resolve().parent.parent / "mappings"

Table = Literal[
    "measurement",
    "observation",
    "condition_occurrence",
    "drug_exposure",
    "procedure_occurrence",
    "visit_occurrence",
    "death",
]


class MappingError(ValueError):
    """A mapping file is invalid (the message names the file and the field)."""


class Rule(BaseModel):
    """Rows of one OMOP table from the nodes of an archetype."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    table: Table
    each: str | None = None
    """path (relative to the entry) of the nodes that each make a row; default: the entry"""
    within: str | None = None
    """path (relative to each ``each`` node, ``**`` for any depth) of sub-nodes that each
    make a row instead, dated by the ``each`` node (e.g. analytes within an event)"""
    concept_id: int | None = None
    concept: str | None = None
    """path of a coded value whose code gives the concept (local ``codes`` first, then the
    terminology service)"""
    codes: dict[str, int] = Field(default_factory=dict)
    """``terminology::code`` -> concept id, consulted before the terminology service"""
    source_value: str | None = None
    value: str | None = None
    """path of the ELEMENT (or data value) giving the value; no value, no row"""
    units: dict[str, int] = Field(default_factory=dict)
    start: str | None = None
    start_fallback: bool = False
    """when the ``start`` path is absent, date the row by its event (else the context start)
    instead of reporting it undated (e.g. a medication statement without a start date)"""
    end: str | None = None
    type_concept_id: int = 32817
    """OMOP type concept: 32817 "EHR" by default"""
    columns: dict[str, int | float | str] = Field(default_factory=dict)
    """constant values of other columns of the table (e.g. condition_status_concept_id)"""


class Mapping(BaseModel):
    """The mapping of one archetype."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    archetype_id: str
    version: int = 1
    description: str = ""
    rules: tuple[Rule, ...]
    source: str = ""
    """the file it was read from"""


def load_mappings(*directories: Path) -> dict[str, Mapping]:
    """Every ``*.yaml`` mapping of the directories (later ones override), by archetype id."""
    found: dict[str, Mapping] = {}
    for directory in directories or (BUILTIN_MAPPINGS,):
        for path in sorted(directory.glob("*.yaml")):
            try:
                raw = yaml.safe_load(path.read_text(encoding="utf-8"))
                mapping = Mapping.model_validate({**raw, "source": path.name})
            except (yaml.YAMLError, ValidationError, TypeError) as exc:
                raise MappingError(f"{path}: {exc}") from None
            found[mapping.archetype_id] = mapping
    return found


def mapping_version(mappings: dict[str, Mapping]) -> str:
    """A short label of the mapping set, for ``cdm_source`` (archetype:version, sorted)."""
    return ",".join(f"{m.archetype_id.split('.')[-2]}:{m.version}" for m in mappings.values())[:255]
