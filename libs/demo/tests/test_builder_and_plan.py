"""The template builder's output and the demo hospital's plan (pure, no I/O)."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from datetime import date

from hygie_demo.builder import Coded, Composition, Element, Evaluation, Template, to_opt_xml
from hygie_demo.hospital import SITES, make_plan, until_of
from hygie_demo.identities import corrupt_nir, make_identity, nir_key
from hygie_demo.templates import TEMPLATES, shipped_opts

NS = {"o": "http://schemas.openehr.org/v1"}
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


def test_shipped_opt_files_are_what_the_definitions_build() -> None:
    shipped = shipped_opts()
    assert set(shipped) == {t.template_id for t in TEMPLATES}
    for template in TEMPLATES:
        assert shipped[template.template_id] == to_opt_xml(template), (
            f"{template.template_id}: run `python -m hygie_demo.templates`"
        )


def test_every_node_of_an_archetype_has_its_term_and_roots_their_archetype_id() -> None:
    for template in TEMPLATES:
        root = ET.fromstring(to_opt_xml(template))
        assert root.findtext("o:template_id/o:value", namespaces=NS) == template.template_id
        roots = [root.find("o:definition", NS)] + [
            el
            for el in root.iter(f"{{{NS['o']}}}children")
            if el.get(XSI_TYPE) == "C_ARCHETYPE_ROOT"
        ]
        for archetype in roots:
            assert archetype is not None
            codes = {t.get("code") for t in archetype.findall("o:term_definitions", NS)}
            assert archetype.findtext("o:archetype_id/o:value", namespaces=NS)
            for node in archetype.iter():
                node_id = node.findtext("o:node_id", namespaces=NS)
                inner_root = node is not archetype and node.get(XSI_TYPE) == "C_ARCHETYPE_ROOT"
                if node_id and not inner_root and _owner(archetype, node):
                    assert node_id in codes, (template.template_id, node_id)


def _owner(archetype: ET.Element, node: ET.Element) -> bool:
    """Whether ``node`` belongs to ``archetype`` and not to an archetype nested in it."""
    for nested in archetype.iter(f"{{{NS['o']}}}children"):
        inner = nested is not archetype and nested.get(XSI_TYPE) == "C_ARCHETYPE_ROOT"
        if inner and any(n is node for n in nested.iter()):
            return False
    return True


def test_a_local_code_list_becomes_terms_of_its_archetype() -> None:
    template = Template(
        "t.v1",
        "T",
        "00000000-0000-0000-0000-000000000001",
        "test",
        Composition(
            "openEHR-EHR-COMPOSITION.report.v1",
            "Report",
            content=(
                Evaluation(
                    "openEHR-EHR-EVALUATION.x.v1",
                    "X",
                    data=("at0001", "Tree"),
                    items=(Element("at0002", "Grade", Coded("local", {"at0010": "Mild"})),),
                ),
            ),
        ),
    )
    xml = to_opt_xml(template).decode()
    assert "<code_list>at0010</code_list>" in xml
    assert 'code="at0010"' in xml
    assert ">Mild<" in xml


def test_nir_keys_are_valid_and_a_corrupted_key_is_not() -> None:
    rng = random.Random(7)
    for _ in range(200):
        person = make_identity(rng, today=date(2026, 1, 1))
        nir = person.nir
        assert len(nir) == 15
        assert int(nir[13:]) == nir_key(nir[:13])
        assert nir[0] == ("1" if person.sex == "male" else "2")
        assert nir[1:3] == f"{person.birth_date.year % 100:02d}"
        assert int(corrupt_nir(nir)[13:]) != nir_key(nir[:13])


def test_a_seed_gives_the_same_hospital_and_another_seed_another() -> None:
    until = until_of(date(2026, 11, 1))
    a = make_plan(patients=40, days=5, seed=11, until=until)
    b = make_plan(patients=40, days=5, seed=11, until=until)
    c = make_plan(patients=40, days=5, seed=12, until=until)
    assert [(s.uid("encounter"), s.admitted, s.vitals) for s in a.stays] == [
        (s.uid("encounter"), s.admitted, s.vitals) for s in b.stays
    ]
    assert [r.ipp for r in a.registrations] == [r.ipp for r in b.registrations]
    assert [r.identity for r in a.registrations] != [r.identity for r in c.registrations]


def test_the_plan_has_two_sites_duplicates_with_errors_and_stays_in_the_window() -> None:
    until = until_of(date(2026, 11, 1))
    plan = make_plan(patients=300, days=10, seed=5, until=until)
    assert {r.site.system for r in plan.registrations} == {s.system for s in SITES}
    duplicates = [r for r in plan.registrations if r.error]
    assert duplicates
    assert all(r.error for r in duplicates)
    assert any(r.qualified for r in plan.registrations)
    assert len({(r.site.system, r.ipp) for r in plan.registrations}) == len(plan.registrations)
    for stay in plan.stays:
        assert stay.admitted < until
        assert stay.discharged is None or stay.admitted < stay.discharged <= until
        assert all(stay.admitted <= t < (stay.discharged or until) for t, _ in stay.vitals)
        assert stay.diagnoses
        assert stay.medications
    assert any(s.died for s in plan.stays)
