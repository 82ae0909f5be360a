"""NIR/INS validation (Référentiel INS)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hygie_patient_index.domain.ins import Ins, InsKind, InvalidNir, nir_key, parse_nir


def with_key(body: str) -> str:
    return body + f"{nir_key(body):02d}"


def test_key_is_97_minus_body_mod_97():
    body = "1850578006084"
    assert nir_key(body) == 97 - int(body) % 97
    assert parse_nir(with_key(body)) == with_key(body)


def test_corsica_departments_count_as_19_and_18():
    a, b = "290012A001002", "175102B010020"
    assert nir_key(a) == 97 - int(a.replace("2A", "19")) % 97
    assert nir_key(b) == 97 - int(b.replace("2B", "18")) % 97
    assert parse_nir(with_key(a)).startswith("290012A")


def test_spaces_and_lower_case_are_accepted():
    nir = with_key("290012A001002")
    spaced = (
        f"{nir[0]} {nir[1:3]} {nir[3:5]} {nir[5:7].lower()} {nir[7:10]} {nir[10:13]} {nir[13:]}"
    )
    assert parse_nir(spaced) == nir


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ("18505780060", "nir-length"),
        ("5850578006084" + "00", "nir-format"),
        ("1851378006084" + "00", "nir-format"),
        ("185052C006084" + "00", "nir-format"),
    ],
)
def test_malformed_nir_is_refused_with_its_rule(raw, rule):
    with pytest.raises(InvalidNir) as err:
        parse_nir(raw)
    assert err.value.rule == rule


def test_wrong_key_is_refused():
    good = with_key("1850578006084")
    bad = good[:13] + f"{(int(good[13:]) % 97) + 1:02d}"
    with pytest.raises(InvalidNir) as err:
        parse_nir(bad)
    assert err.value.rule == "nir-key"


def test_ins_needs_an_ins_oid():
    nir = with_key("1850578006084")
    assert Ins(nir, InsKind.NIR.value).kind is InsKind.NIR
    assert Ins(nir, "1.2.250.1.213.1.4.10").system == "urn:oid:1.2.250.1.213.1.4.10"
    with pytest.raises(InvalidNir) as err:
        Ins(nir, "1.2.250.1.213.1.4.2")
    assert err.value.rule == "ins-oid"


@given(st.from_regex(r"[12][0-9]{2}(0[1-9]|1[0-2])([0-9]{2}|2A|2B)[0-9]{6}", fullmatch=True))
def test_every_body_with_its_key_is_valid_and_any_other_key_is_not(body):
    nir = with_key(body)
    assert parse_nir(nir) == nir
    wrong = (nir_key(body) % 97) + 1
    with pytest.raises(InvalidNir):
        parse_nir(body + f"{wrong:02d}")
