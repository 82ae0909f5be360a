"""The bulk load's decisions (``decide_with_views``, views computed once per record) are
those of the online path (``decide_match``)."""

from uuid import UUID

import pytest

from hygie_patient_index.domain.comparators import MatchView
from hygie_patient_index.service.bulk_match import decide_with_views
from hygie_patient_index.service.context import IndexContext
from hygie_patient_index.service.matching import decide_match
from hygie_patient_index.synthetic import FrenchPopulation


@pytest.mark.parametrize("frequency", [None, 0.002, 0.2])
def test_decisions_with_views_are_those_of_decide_match(frequency):
    data = FrenchPopulation(seed=3).dataset(persons=120)
    # Golden records as the truth groups them, plus a few wrong groupings on purpose.
    records = [
        r.evolve(golden_id=UUID(int=data.person_of[r.identifier.value] % 97 + 1))
        for r in data.records
    ]
    ctx = IndexContext()
    views = [MatchView(r) for r in records]
    outcomes = set()
    for i, record in enumerate(records):
        earlier = records[max(0, i - 60) : i]
        ins = record.trusted_ins
        same = [r for r in earlier if ins is not None and r.trusted_ins == ins]
        excluded = {earlier[0].golden_id} if i % 7 == 0 and earlier else set()
        expected = decide_match(
            ctx,
            record,
            same_ins=same,
            candidates=earlier,
            frequency=frequency,
            excluded=excluded,
        )
        viewed = list(zip(earlier, views[max(0, i - 60) : i], strict=True))
        got = decide_with_views(
            ctx,
            views[i],
            same_ins=[(r, v) for r, v in viewed if r in same],
            candidates=viewed,
            frequency=frequency,
            excluded=excluded,
        )
        assert got == expected, record.identifier
        outcomes.add((expected[0].outcome, expected[1], expected[0].reason))
    assert len(outcomes) >= 4  # links, reviews, new records, deterministic matches


def test_pairs_scored_by_two_processes_are_scored_as_by_one(monkeypatch):
    from hygie_patient_index.domain.scoring import DEFAULT_MODEL
    from hygie_patient_index.service import bulk_match

    data = FrenchPopulation(seed=4).dataset(persons=40)
    views = [MatchView(r) for r in data.records]
    pairs = [(a, b) for a in views for b in views[:25]]
    monkeypatch.setattr(bulk_match, "MIN_PARALLEL_PAIRS", 10)
    two = bulk_match.score_pairs(DEFAULT_MODEL, pairs, workers=2)
    one = [DEFAULT_MODEL.score(a, b) for a, b in pairs]
    assert two == one
    assert len({s.weight for s in one}) > 10
