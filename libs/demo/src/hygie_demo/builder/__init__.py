"""A small template builder: a compact definition (:mod:`.model`) → ADL 1.4 OPT XML."""

from .model import (
    UNBOUNDED,
    Action,
    AdminEntry,
    Cluster,
    Coded,
    Composition,
    Count,
    DateTime,
    Element,
    Evaluation,
    Identifier,
    Instruction,
    Observation,
    Proportion,
    Quantity,
    Template,
    Text,
)
from .opt import to_opt_xml

__all__ = [
    "UNBOUNDED",
    "Action",
    "AdminEntry",
    "Cluster",
    "Coded",
    "Composition",
    "Count",
    "DateTime",
    "Element",
    "Evaluation",
    "Identifier",
    "Instruction",
    "Observation",
    "Proportion",
    "Quantity",
    "Template",
    "Text",
    "to_opt_xml",
]
