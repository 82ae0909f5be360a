"""Compositions mapped in worker processes while the runner writes the previous batch.

Mapping a composition (the YAML paths walked in Python) is the largest share of a
rebuild's CPU; in a thread it competes with the writer for the GIL. A large batch's
committed compositions go, as the records' raw JSON, to a process pool (``spawn``: no fork
of a process holding sockets and threads) that parses and maps them with a snapshot of
the translations cached so far. Results are only hints: ``Projector.apply`` uses one when
its composition version and translation epoch still hold, and maps the rest itself; a
record the worker cannot read is simply not premapped (the runner's own decoding sends it
to the DLQ with its reason).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import orjson

from ..domain.fold import versioned_object_id
from ..domain.mapper import Concept
from ..domain.mappings import Mapping as ArchetypeMapping
from ..service.materialise import map_one
from ..service.project import Premapped

__all__ = ["COMMITTED", "MappingPool"]

COMMITTED = "hygie.ehr.composition.committed.v1"
_mappings: Mapping[str, ArchetypeMapping] = {}


def _start(mappings: Mapping[str, ArchetypeMapping]) -> None:
    global _mappings
    _mappings = mappings


def _map_chunk(values: Sequence[bytes], concepts: dict[tuple[str, str], Concept], epoch: int
               ) -> Premapped:  # fmt: skip
    """Parse and map committed compositions (in a worker process)."""
    out: Premapped = {}
    for value in values:
        try:
            data = orjson.loads(value)
            version_uid, body = data["version_uid"], data["composition"]
            if not isinstance(version_uid, str) or not isinstance(body, dict):
                continue
            voi = versioned_object_id(version_uid)
            mapped, misses = map_one(body, voi, _mappings, concepts)
        except Exception:
            continue
        out[voi] = (version_uid, epoch, mapped, misses)
    return out


class MappingPool:
    """A lazily started pool of mapping processes (one per spare core, at least one)."""

    def __init__(self, mappings: Mapping[str, ArchetypeMapping], *, workers: int | None = None):
        self.mappings = mappings
        self.workers = workers or max(1, min(4, (os.cpu_count() or 2) - 1))
        self._pool: ProcessPoolExecutor | None = None

    async def premap(
        self, values: Sequence[bytes], concepts: Mapping[tuple[str, str], Concept], epoch: int
    ) -> Premapped:
        """Premapped compositions of raw ``CompositionCommitted`` record values."""
        if not values:
            return {}
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_start, initargs=(dict(self.mappings),),
            )  # fmt: skip
        loop = asyncio.get_running_loop()
        snapshot = dict(concepts)
        size = -(-len(values) // self.workers)
        chunks = [values[i : i + size] for i in range(0, len(values), size)]
        out: Premapped = {}
        for part in await asyncio.gather(
            *(loop.run_in_executor(self._pool, _map_chunk, c, snapshot, epoch) for c in chunks)
        ):
            out.update(part)
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def committed_values(records: Sequence[Any]) -> list[bytes]:
    """The values of the records announcing a committed composition (by their ce_type)."""
    out = []
    for record in records:
        for name, raw in record.headers or ():
            if name == "ce_type":
                if raw == COMMITTED.encode() and record.value is not None:
                    out.append(record.value)
                break
    return out
