"""The French test-data generator: seeded, valid identities, the errors it promises."""

from datetime import date

from hygie_patient_index.domain.ins import parse_nir
from hygie_patient_index.domain.validation import validate_record
from hygie_patient_index.entrypoints.fhir.parse import parse_patient
from hygie_patient_index.synthetic import FrenchPopulation, fhir_patient


def test_same_seed_same_records_and_every_record_is_valid():
    a = FrenchPopulation(seed=3).dataset(persons=300)
    b = FrenchPopulation(seed=3).dataset(persons=300)
    assert [r.traits for r in a.records] == [r.traits for r in b.records]
    assert not [r for r in a.records if validate_record(r, today=date(2026, 1, 1))]
    assert len(a.true_pairs()) > 100


def test_nirs_have_valid_keys_and_records_carry_the_promised_errors():
    pop = FrenchPopulation(seed=11)
    persons = list(pop.persons(2000))
    for p in persons:
        assert parse_nir(p.nir) == p.nir
    assert any(p.birth_place.startswith("2A") or p.birth_place.startswith("2B") for p in persons)
    data = FrenchPopulation(seed=11).dataset(persons=2000)
    truth_dates = {k: p.birth_date for k, p in data.persons.items()}
    swapped = [
        r
        for r in data.records
        if r.traits.birth_date
        and (d := truth_dates[data.person_of[r.identifier.value]]) != r.traits.birth_date
        and (r.traits.birth_date.day, r.traits.birth_date.month) == (d.month, d.day)
    ]
    assert swapped
    assert any(r.traits.used_family_name for r in data.records)
    assert any(r.traits.birth_place_code is None for r in data.records)
    assert any(r.ins is not None for r in data.records)


def test_fhir_rendering_parses_back_to_the_same_traits():
    data = FrenchPopulation(seed=2).dataset(persons=50)
    for r in data.records:
        draft = parse_patient(fhir_patient(r)).draft
        assert draft.traits == r.traits
        assert draft.ins == r.ins
        assert draft.status == r.status
