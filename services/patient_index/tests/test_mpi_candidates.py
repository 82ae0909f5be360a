"""Blocking candidates: when more records share a block than the match compares, the
ones sharing the most blocking keys are kept."""

from dataclasses import replace
from datetime import date
from uuid import uuid4

from hygie_patient_index.adapters.candidates import blocking_candidates
from hygie_patient_index.domain.identity import Address, Identifier, SourceRecord
from hygie_patient_index.service.bulk import load_identities
from hygie_patient_index.testing import IPP_A, IPP_B, record

GIVEN = ["Anne", "Bruno", "Chloé", "Denis", "Emma", "Fabien", "Gaëlle", "Hugo", "Inès", "Jules"]


def _namesake(k: int, **kw: object) -> SourceRecord:
    """A Martin born in 1980: all share the family-name + birth-year block, little else."""
    base: dict[str, object] = {
        "birth_family_name": "Martin",
        "birth_given_names": (f"{GIVEN[k % 10]}{'e' * (k // 10)}",),
        "birth_date": date(1980, 1 + k % 12, 1 + k % 28),
        "birth_place_code": f"{13001 + k}",
        "addresses": (Address(lines=(f"{k} rue Haute",), city="Lyon", postal_code=f"{69100 + k}"),),
    }
    base.update(kw)
    return record(f"N{k}", IPP_A, **base)


async def test_the_cap_keeps_the_candidates_sharing_most_keys(mpi):
    ctx = mpi.runtime.app.state.patient_index
    others = [_namesake(k) for k in range(30) if k != 17]
    target = _namesake(17, birth_given_names=("Zoé",), birth_date=date(1980, 7, 17))
    report = await load_identities(mpi.runtime.app.state.uow, ctx, [*others, target], by="t")
    assert report.created == 30
    # the same person registered at another site
    query = replace(target, id=uuid4(), identifier=Identifier(IPP_B, "Q1"))
    engine = mpi.runtime.engine
    async with engine.connect() as conn:
        every = await blocking_candidates(conn, query, limit=100)
        capped = await blocking_candidates(conn, query, limit=3)
    assert len(every) == 30  # the family-name + birth-year block holds them all
    assert len(capped) == 3
    assert capped[0].identifier.value == "N17"
