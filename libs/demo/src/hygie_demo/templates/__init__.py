"""The demo hospital's operational templates: definitions and the shipped OPT files."""

from __future__ import annotations

from pathlib import Path

from ..builder import to_opt_xml
from .definitions import ENCOUNTER, LABORATORY, MEDICATION, PROBLEMS, TEMPLATES, VITAL_SIGNS

__all__ = [
    "ENCOUNTER",
    "LABORATORY",
    "MEDICATION",
    "PROBLEMS",
    "TEMPLATES",
    "TEMPLATE_DIR",
    "VITAL_SIGNS",
    "shipped_opts",
    "write_opts",
]

TEMPLATE_DIR = Path(__file__).parent / "opt"


def shipped_opts() -> dict[str, bytes]:
    """template id -> the shipped OPT document."""
    return {t.template_id: (TEMPLATE_DIR / f"{t.template_id}.opt").read_bytes() for t in TEMPLATES}


def write_opts(directory: Path = TEMPLATE_DIR) -> list[Path]:
    """Write every template's OPT from its definition; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for template in TEMPLATES:
        path = directory / f"{template.template_id}.opt"
        path.write_bytes(to_opt_xml(template))
        written.append(path)
    return written
