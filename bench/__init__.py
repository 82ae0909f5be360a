"""Benchmarks of the Hygie platform: ``make bench`` (``python -m bench [name ...]``).

Each module named in :data:`BENCHMARKS` exposes ``DEFAULT_EVENTS`` and
``run(options) -> dict``; ``python -m bench`` writes what it returns to
``bench/results/<name>.json``.
"""

BENCHMARKS = (
    "bus",
    "audit",
    "flat",
    "mpi",
    "terminology",
    "ehr",
    "omop",
    "demo",
    "aql",
    "http_floor",
)
