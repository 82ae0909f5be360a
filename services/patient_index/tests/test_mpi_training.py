"""EM estimation of m and u from synthetic comparison vectors."""

import random

from hygie_patient_index.domain.scoring import DEFAULT_MODEL
from hygie_patient_index.domain.training import estimate_m, estimate_u

FIELDS = [f.name for f in DEFAULT_MODEL.fields]


def _vector(rng, match):
    v = {}
    for f in DEFAULT_MODEL.fields:
        levels = list(f.levels)
        probs = [mu[0] if match else mu[1] for mu in f.levels.values()]
        v[f.name] = rng.choices(levels, probs)[0]
    return v


def test_em_recovers_the_generating_probabilities():
    rng = random.Random(7)
    random_pairs = [_vector(rng, False) for _ in range(4000)]
    blocked = [_vector(rng, i % 4 == 0) for i in range(4000)]  # a quarter are matches
    u = estimate_u(DEFAULT_MODEL, random_pairs)
    trained = estimate_m(DEFAULT_MODEL, blocked, u)
    assert abs(trained.match_share - 0.25) < 0.05
    m_exact, _ = trained.levels["birth_date"]["exact"]
    assert abs(m_exact - 0.92) < 0.05
    assert abs(u["sex"]["same"] - 0.5) < 0.05
    retrained = DEFAULT_MODEL.with_levels(trained.levels)
    assert retrained.fields[0].weight("exact") > 0 > retrained.fields[0].weight("different")


async def test_training_on_the_index_is_stored_and_loaded_at_start(hygie_settings):
    from datetime import date, timedelta

    from hygie_patient_index.bootstrap import SPEC as BASE
    from hygie_patient_index.bootstrap import make_bootstrap
    from hygie_patient_index.service.context import IndexContext
    from hygie_patient_index.service.training import train_model
    from hygie_patient_index.testing import IPP_A, IPP_B, fhir_patient
    from hygie_platform.testing import start_service

    names = [
        "Martin",
        "Bernard",
        "Thomas",
        "Petit",
        "Robert",
        "Richard",
        "Durand",
        "Dubois",
        "Moreau",
        "Laurent",
        "Simon",
        "Michel",
        "Lefebvre",
        "Leroy",
        "Roux",
        "David",
    ]
    ctx = IndexContext()
    spec = BASE.__class__(**{**BASE.__dict__, "bootstrap": make_bootstrap(ctx)})
    async with start_service(spec, hygie_settings, background=False) as mpi:
        for i, name in enumerate(names):
            born = (date(1950, 1, 1) + timedelta(days=900 * i)).isoformat()
            for system in (IPP_A, IPP_B):
                body = fhir_patient(
                    f"{system[-5]}{i}",
                    system,
                    family=name,
                    given=("Jean",),
                    gender="male",
                    birth_date=born,
                    insee=None,
                )
                resp = await mpi.client.put(
                    f"/fhir/Patient?identifier={system}|{system[-5]}{i}",
                    json=body,
                    headers=mpi.auth("integration"),
                )
                assert resp.status_code == 201, resp.text
        async with mpi.runtime.app.state.uow() as uow:
            trained = await train_model(uow, ctx, seed=1)
        assert trained.pairs > 0
        assert ctx.model is not DEFAULT_MODEL
        assert len(await mpi.fetch("SELECT * FROM match_parameters")) == 1
    fresh = IndexContext()
    spec2 = BASE.__class__(**{**BASE.__dict__, "bootstrap": make_bootstrap(fresh)})
    async with start_service(spec2, hygie_settings, background=False):
        assert fresh.model is not DEFAULT_MODEL


def test_em_per_blocking_rule_takes_each_m_from_the_rules_leaving_the_field_free():
    from hygie_patient_index.domain.training import estimate_m_by_rule

    rng = random.Random(3)
    u = estimate_u(DEFAULT_MODEL, [_vector(rng, False) for _ in range(4000)])

    def blocked(fixed):
        out = []
        for i in range(3000):
            v = _vector(rng, i % 3 == 0)
            out.append({**v, **{f: "exact" for f in fixed}})  # the rule's fields agree
        return out

    trained = estimate_m_by_rule(
        DEFAULT_MODEL,
        {"f": blocked({"family_name"}), "t": blocked({"phone"})},
        u,
        rule_fields={"f": frozenset({"family_name"}), "t": frozenset({"phone"})},
    )
    # family name: only the phone session is free to see it disagree
    m_diff, _ = trained.levels["family_name"]["different"]
    assert m_diff < 0.05
    m_exact, _ = trained.levels["family_name"]["exact"]
    assert abs(m_exact - 0.88) < 0.06
    assert abs(trained.levels["birth_date"]["exact"][0] - 0.92) < 0.05


def test_training_on_records_without_labels():
    from hygie_patient_index.domain.comparators import MatchView
    from hygie_patient_index.domain.training import train_on_views
    from hygie_patient_index.synthetic import FrenchPopulation

    data = FrenchPopulation(seed=5).dataset(persons=300)
    views = [MatchView(r) for r in data.records]
    trained = train_on_views(DEFAULT_MODEL, views, random_pairs=20_000, seed=1)
    model = DEFAULT_MODEL.with_levels(trained.levels)
    weights = {f.name: f.weights for f in model.fields}
    assert trained.pairs > 0
    for name in ("family_name", "given_name", "birth_date", "phone"):
        assert weights[name]["exact"] > 3 > 0 > weights[name]["different"]
    # u of a rare level stays near its prior rather than collapsing to zero
    assert trained.levels["birth_date"]["exact"][1] > 1e-6
