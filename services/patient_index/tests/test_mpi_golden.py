"""Survivorship of golden records and record validation."""

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

from hygie_patient_index.domain.golden import survive
from hygie_patient_index.domain.identity import Sex
from hygie_patient_index.domain.rniv import IdentityStatus
from hygie_patient_index.domain.validation import validate_record
from hygie_patient_index.testing import IPP_B, nir, record

NOW = datetime(2024, 1, 1, tzinfo=UTC)


def test_qualified_source_wins_strict_traits_even_when_older():
    qual = record(
        "A1",
        status=IdentityStatus.QUAL,
        ins=nir(),
        birth_family_name="DUPONT",
        updated=NOW - timedelta(days=300),
    )
    prov = record("B1", IPP_B, birth_family_name="Dupond", used_family_name="Martin", updated=NOW)
    g = survive(uuid4(), [prov, qual])
    assert g.traits.birth_family_name == "DUPONT"
    assert g.traits.used_family_name == "Martin"  # most recent wins for non-strict traits
    assert g.status is IdentityStatus.QUAL
    assert g.shareable_ins == qual.ins
    assert [str(i) for i in g.identifiers] == [str(qual.identifier), str(prov.identifier)]


def test_record_of_truth_overrides_trust():
    qual = record("A1", status=IdentityStatus.QUAL, ins=nir())
    prov = record("B1", IPP_B, birth_family_name="Dupond")
    g = survive(uuid4(), [qual, prov], record_of_truth=prov.id)
    assert g.traits.birth_family_name == "Dupond"
    assert g.shareable_ins is None


def test_most_recent_wins_among_equals():
    old = record("A1", birth_family_name="Old", updated=NOW - timedelta(days=1))
    new = record("B1", IPP_B, birth_family_name="New", updated=NOW)
    assert survive(uuid4(), [old, new]).traits.birth_family_name == "New"


def test_inactive_sources_do_not_contribute():
    gone = record("A1", birth_family_name="Gone", updated=NOW).evolve(active=False)
    kept = record("B1", IPP_B, birth_family_name="Kept", updated=NOW - timedelta(days=1))
    g = survive(uuid4(), [gone, kept])
    assert g.traits.birth_family_name == "Kept"
    assert len(g.identifiers) == 1


def rules(r):
    return {i.rule for i in validate_record(r, today=date(2024, 1, 1))}


def test_valid_record_breaks_no_rule():
    assert rules(record("A1", status=IdentityStatus.QUAL, ins=nir())) == set()


def test_validation_rules():
    assert "birth-date-impossible" in rules(record(birth_date=date(2030, 1, 1)))
    assert "death-date-impossible" in rules(record(death_date=date(1970, 1, 1)))
    assert "birth-place-code-format" in rules(record(birth_place_code="7505"))
    assert "status-requires-ins" in rules(record(status=IdentityStatus.RECUP))
    assert "status-requires-trait" in rules(record(status=IdentityStatus.VALI, sex=Sex.UNKNOWN))
    assert "ins-traits-mismatch" in rules(record(ins=nir(), sex=Sex.MALE))
    assert "ins-traits-mismatch" in rules(record(ins=nir(), birth_date=date(1986, 5, 12)))
    assert "identifier-system" in rules(record("X", "urn:oid:1.2.250.1.213.1.4.8"))
