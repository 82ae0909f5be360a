"""Comparators, Fellegi-Sunter weights and the link decision."""

from datetime import date
from uuid import uuid4

import pytest

from hygie_patient_index.domain.comparators import MatchView
from hygie_patient_index.domain.identity import Sex
from hygie_patient_index.domain.scoring import DEFAULT_MODEL, Outcome, Thresholds, decide
from hygie_patient_index.testing import record


def score(a, b):
    return DEFAULT_MODEL.score(MatchView(a), MatchView(b))


def test_identical_traits_score_far_above_auto_link():
    s = score(record("A1"), record("B1"))
    assert s.weight > Thresholds().auto_link + Thresholds().confirm
    assert s.level("family_name") == "exact"
    assert s.level("birth_date") == "exact"


@pytest.mark.parametrize(
    ("changes", "field", "level"),
    [
        ({"birth_family_name": "Dupond"}, "family_name", "close"),
        ({"birth_family_name": "Dupon"}, "family_name", "close"),
        ({"birth_given_names": ("Marie-Claire",)}, "given_name", "partial"),
        ({"birth_given_names": ("Mari",)}, "given_name", "close"),
        ({"birth_date": date(1985, 12, 5)}, "birth_date", "swap"),
        ({"birth_date": date(1985, 5, 13)}, "birth_date", "typo"),
        ({"birth_date": date(1985, 1, 30)}, "birth_date", "year"),
        ({"birth_family_name": "Martin", "used_family_name": "Dupont"}, "family_name", "alias"),
        ({"birth_place_code": "75120"}, "birth_place", "department"),
        ({"sex": Sex.UNKNOWN}, "sex", None),
    ],
)
def test_levels(changes, field, level):
    assert score(record("A1"), record("B1", **changes)).level(field) == level


def test_married_name_on_one_side_still_scores_a_likely_match():
    wife = record("B1", birth_family_name="Dupont", used_family_name="Martin")
    assert score(record("A1"), wife).level("family_name") == "exact"
    by_used = record("C1", birth_family_name="Martin", used_family_name=None)
    assert score(wife, by_used).level("family_name") == "alias"


def test_different_people_score_below_review():
    other = record(
        "B1",
        birth_family_name="Bernard",
        birth_given_names=("Luc",),
        sex=Sex.MALE,
        birth_date=date(1950, 1, 2),
        birth_place_code="69123",
        addresses=(),
    )
    assert score(record("A1"), other).weight < Thresholds().review


def test_twins_are_not_auto_linked():
    twin = record("B1", birth_given_names=("Sophie",))
    s = score(record("A1"), twin)
    d = decide({uuid4(): s}, Thresholds())
    assert d.outcome is not Outcome.LINK


def test_decision_bands():
    t = Thresholds()
    strong = score(record("A1"), record("B1"))
    g1, g2 = uuid4(), uuid4()
    assert decide({}, t).outcome is Outcome.NEW
    linked = decide({g1: strong}, t)
    assert linked.outcome is Outcome.LINK
    assert linked.golden_id == g1
    assert not linked.review
    competing = decide({g1: strong, g2: strong}, t)
    assert competing.outcome is Outcome.REVIEW
    assert competing.reason == "competing-candidate"
    # one typo in the birth date, a close given name, no birth place nor address
    weak = score(
        record("A1"),
        record(
            "B1",
            birth_date=date(1985, 5, 13),
            birth_given_names=("Maria",),
            birth_place_code=None,
            addresses=(),
        ),
    )
    assert t.review <= weak.weight < t.auto_link
    assert decide({g1: weak}, t).reason == "below-auto-link-threshold"
    other_day = score(record("A1"), record("B1", birth_date=date(1985, 1, 30)))
    assert other_day.weight >= t.auto_link  # names, place, address agree...
    assert decide({g1: other_day}, t).reason == "strict-trait-disagreement"  # ...not the date


def test_close_above_threshold_links_and_asks_for_confirmation():
    t = Thresholds()
    s = score(record("A1"), record("B1"))
    d = decide({uuid4(): s}, Thresholds(auto_link=s.weight - 1, review=t.review))
    assert d.outcome is Outcome.LINK
    assert d.review
    assert d.reason == "linked-close-to-threshold"


def test_contributions_are_reported_per_field():
    s = score(record("A1"), record("B1"))
    body = s.as_dict()
    assert set(body["fields"]) >= {"family_name", "given_name", "birth_date", "sex"}
    assert 0 < s.probability <= 1


def test_term_frequency_adjustment_weighs_rare_names_more():
    from hygie_patient_index.domain.scoring import tf_adjusted

    s = score(record("A1"), record("B1"))
    common = tf_adjusted(s, DEFAULT_MODEL, field="family_name", frequency=0.02)
    rare = tf_adjusted(s, DEFAULT_MODEL, field="family_name", frequency=0.00001)
    assert common.weight < s.weight < rare.weight
    assert tf_adjusted(s, DEFAULT_MODEL, field="family_name", frequency=None) is s
    other = score(record("A1"), record("B1", birth_family_name="Dupond"))
    assert tf_adjusted(other, DEFAULT_MODEL, field="family_name", frequency=0.02) is other


def test_phone_street_and_swapped_names_levels():
    from hygie_patient_index.domain.comparators import (
        compare_family_name,
        compare_given_name,
        compare_phone,
        compare_street,
    )
    from hygie_patient_index.domain.identity import Address, Telecom

    def view(**kw):
        return MatchView(record("X", **kw))

    phone = view(telecoms=(Telecom("phone", "+33 6 12 34 56 78"),))
    assert compare_phone(phone, view(telecoms=(Telecom("phone", "06.12.34.56.78"),))) == "exact"
    assert compare_phone(phone, view(telecoms=(Telecom("phone", "0612345687"),))) == "typo"
    assert compare_phone(phone, view(telecoms=(Telecom("phone", "0499999999"),))) == "different"
    assert compare_phone(phone, view()) is None
    street = view(addresses=(Address(lines=("12, rue de l'Église",)),))
    assert compare_street(street, view(addresses=(Address(lines=("12 RUE DE L EGLISE",)),))) == (
        "exact"
    )
    assert compare_street(street, view(addresses=(Address(lines=("12 rue de l'Eglize",)),))) == (
        "close"
    )
    swapped = view(birth_family_name="Marie", birth_given_names=("Dupont",))
    assert compare_family_name(view(), swapped) == "swapped"
    assert compare_given_name(view(), swapped) == "swapped"


def test_guards_apply_when_sex_or_birth_place_document_the_pair():
    # Twins: every trait shared but the given name. Known sex or birth place on both
    # sides: the guard holds the link for a reviewer.
    twin = score(record("A1"), record("B1", birth_given_names=("Sophie",)))
    assert twin.level("given_name") == "different"
    assert decide({uuid4(): twin}, Thresholds()).reason == "strict-trait-disagreement"
    only_place = score(
        record("A1", sex=Sex.UNKNOWN),
        record("B1", sex=Sex.UNKNOWN, birth_given_names=("Sophie",)),
    )
    assert decide({uuid4(): only_place}, Thresholds()).reason == "strict-trait-disagreement"
    # Neither sex nor birth place recorded (Febrl-like records): the weights decide.
    bare = {"sex": Sex.UNKNOWN, "birth_place_code": None}
    undocumented = score(record("A1", **bare), record("B1", birth_given_names=("Sophie",), **bare))
    assert undocumented.weight >= Thresholds().auto_link
    assert decide({uuid4(): undocumented}, Thresholds()).outcome is Outcome.LINK
    # A different sex always holds the link.
    other_sex = score(
        record("A1", birth_place_code=None),
        record("B1", birth_place_code=None, sex=Sex.MALE),
    )
    assert decide({uuid4(): other_sex}, Thresholds()).reason == "strict-trait-disagreement"


def test_blocking_finds_swapped_names_transposed_phones_and_replaced_given_names():
    from hygie_patient_index.domain.blocking import blocking_keys, query_keys
    from hygie_patient_index.domain.identity import Telecom

    def shares(a, b):
        return bool(set(query_keys(b)) & set(blocking_keys(a)))

    base = {"birth_place_code": None, "addresses": (), "telecoms": ()}
    a = record("A1", birth_family_name="Garnier", birth_given_names=("Louis",), **base)
    # family and given names entered the one for the other, birth date otherwise wrong
    swapped = record(
        "B1",
        birth_family_name="Louis",
        birth_given_names=("Garnier",),
        **{**base, "birth_date": date(1985, 7, 1)},
    )
    assert shares(a, swapped)
    # another given name, a typo in the family name: the birth date + family initial
    replaced = record("B2", birth_family_name="Garnjer", birth_given_names=("Paul",), **base)
    assert shares(a, replaced)
    # only a phone number in common, two neighbouring digits swapped
    phone = {**base, "telecoms": (Telecom("phone", "0612345678"),)}
    p1 = record("C1", birth_family_name="X", birth_given_names=("Y",), **phone)
    p2 = record(
        "C2",
        birth_family_name="Z",
        birth_given_names=("W",),
        **{**phone, "birth_date": None, "telecoms": (Telecom("phone", "0612345687"),)},
    )
    assert shares(p1, p2)
    # nothing in common: not compared
    far = record(
        "D1",
        birth_family_name="Bernard",
        birth_given_names=("Luc",),
        **{**base, "birth_date": date(1950, 1, 2)},
    )
    assert not shares(a, far)
