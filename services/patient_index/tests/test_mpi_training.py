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
