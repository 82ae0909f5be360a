"""ADL 1.4 operational templates: the constraint tree and its parser."""

from .model import CAttribute, CObject, Interval, OperationalTemplate, Primitive, QuantityItem
from .parser import InvalidTemplate, parse_opt

__all__ = [
    "CAttribute",
    "CObject",
    "Interval",
    "InvalidTemplate",
    "OperationalTemplate",
    "Primitive",
    "QuantityItem",
    "parse_opt",
]
