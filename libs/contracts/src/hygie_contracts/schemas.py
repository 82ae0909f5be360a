"""The committed JSON schemas of every event type, and the gate that keeps them compatible.

``python -m hygie_contracts.schemas write schemas`` (``make schemas``) regenerates
``schemas/<event type>.json`` from the contracts, refusing an incompatible change;
``python -m hygie_contracts.schemas check schemas`` (``make test``) fails when the
committed files and the contracts disagree. Rules: :mod:`hygie_contracts.compat`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .base import EVENT_TYPES, Event, major_of
from .compat import incompatibilities

__all__ = ["DIALECT", "Report", "check", "compare", "event_schema", "main", "render", "write"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"
_SELF = frozenset({"__main__", "compat", "schemas"})


def event_schema(event_type: str, cls: type[Event]) -> dict[str, Any]:
    """The JSON schema (draft 2020-12) of one event type, as committed in ``schemas/``."""
    schema = cls.model_json_schema()
    schema["$schema"] = DIALECT
    schema["$id"] = f"schemas/{event_type}.json"
    schema["title"] = cls.__name__
    schema["x-hygie"] = {
        "type": event_type,
        "topic": cls.topic,
        "subject_field": cls.subject_field,
        "major": major_of(event_type),
    }
    return schema


def render(schema: Mapping[str, Any]) -> str:
    """The committed text of a schema: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def all_event_types() -> dict[str, type[Event]]:
    """Every event type of the contracts, after importing every module of ``hygie_contracts``
    (test-only or benchmark-only event classes declared elsewhere are not contracts)."""
    package = importlib.import_module("hygie_contracts")
    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in _SELF:
            importlib.import_module(f"hygie_contracts.{module.name}")
    return {
        t: cls
        for t, cls in sorted(EVENT_TYPES.items())
        if cls.__module__.split(".")[0] == "hygie_contracts"
    }


@dataclass
class Report:
    """How the committed schemas in a directory compare with the contracts."""

    #: broken rules: incompatible changes, removed types, unreadable files
    errors: list[str] = field(default_factory=list)
    #: contract types without a committed schema
    missing: list[str] = field(default_factory=list)
    #: types whose committed schema differs from the generated one, compatibly
    stale: list[str] = field(default_factory=list)
    #: the generated text of every contract type
    generated: dict[str, str] = field(default_factory=dict)


def compare(directory: Path, *, registry: Mapping[str, type[Event]] | None = None) -> Report:
    """Generate every contract's schema and compare it with the one committed in ``directory``."""
    registry = all_event_types() if registry is None else registry
    report = Report()
    committed = {path.name.removesuffix(".json"): path for path in directory.glob("hygie.*.json")}
    for event_type in sorted(committed.keys() - registry.keys()):
        report.errors.append(
            f"{event_type}: removing an event type is not allowed while its schema is committed "
            f"({committed[event_type]}): consumers may still read its events from the journal "
            "and the topics; keep the class (and its schema)"
        )
    for event_type, cls in sorted(registry.items()):
        schema = event_schema(event_type, cls)
        text = report.generated[event_type] = render(schema)
        path = committed.get(event_type)
        if path is None:
            report.missing.append(event_type)
            continue
        old_text = path.read_text(encoding="utf-8")
        if old_text == text:
            continue
        try:
            old = json.loads(old_text)
            found = incompatibilities(old, schema, event_type=event_type)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            report.errors.append(f"{event_type}: committed schema {path} is unreadable: {exc}")
            continue
        if found:
            report.errors.extend(map(str, found))
        else:
            report.stale.append(event_type)
    return report


def check(directory: Path, *, registry: Mapping[str, type[Event]] | None = None) -> int:
    """Exit status 0 when ``directory`` holds exactly the schemas of the contracts, else 1."""
    report = compare(directory, registry=registry)
    problems = [
        *report.errors,
        *(f"{t}: no committed schema in {directory}/ (run make schemas)" for t in report.missing),
        *(f"{t}: {directory}/ is out of date: run make schemas" for t in report.stale),
    ]
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        return 1
    print(f"{len(report.generated)} event schemas in {directory}/ match the contracts")
    return 0


def write(directory: Path, *, registry: Mapping[str, type[Event]] | None = None) -> int:
    """Write the schemas of the contracts into ``directory``, refusing incompatible changes."""
    report = compare(directory, registry=registry)
    if report.errors:
        for line in report.errors:
            print(line, file=sys.stderr)
        print(
            f"refusing to write {directory}/: an incompatible change needs a new major event "
            "type (...v2) published alongside the old one (ARCHITECTURE §4.4)",
            file=sys.stderr,
        )
        return 1
    directory.mkdir(parents=True, exist_ok=True)
    for event_type in [*report.missing, *report.stale]:
        (directory / f"{event_type}.json").write_text(
            report.generated[event_type], encoding="utf-8"
        )
    unchanged = len(report.generated) - len(report.missing) - len(report.stale)
    print(
        f"{len(report.missing)} added, {len(report.stale)} updated, "
        f"{unchanged} unchanged in {directory}/"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hygie_contracts.schemas {write,check} DIRECTORY``."""
    parser = argparse.ArgumentParser(prog="python -m hygie_contracts.schemas", description=__doc__)
    parser.add_argument("command", choices=("write", "check"))
    parser.add_argument("directory", type=Path, nargs="?", default=Path("schemas"))
    args = parser.parse_args(argv)
    command = write if args.command == "write" else check
    return command(args.directory)


if __name__ == "__main__":
    raise SystemExit(main())
