"""RNIV status transitions."""

import pytest

from hygie_patient_index.domain.rniv import (
    IdentityStatus as S,
)
from hygie_patient_index.domain.rniv import (
    after_document_check,
    after_insi_retrieval,
    after_strict_trait_edit,
    reconcile_status,
)


@pytest.mark.parametrize(
    ("before", "after"), [(S.PROV, S.RECUP), (S.VALI, S.QUAL), (S.RECUP, S.RECUP), (S.QUAL, S.QUAL)]
)
def test_insi_retrieval(before, after):
    assert after_insi_retrieval(before) is after


@pytest.mark.parametrize(
    ("before", "after"), [(S.PROV, S.VALI), (S.RECUP, S.QUAL), (S.VALI, S.VALI), (S.QUAL, S.QUAL)]
)
def test_document_check(before, after):
    assert after_document_check(before) is after


@pytest.mark.parametrize("before", list(S))
def test_editing_a_strict_trait_drops_to_prov(before):
    assert after_strict_trait_edit(before) is S.PROV


def test_qualification_needs_both_attestations_in_either_order():
    assert after_document_check(after_insi_retrieval(S.PROV)) is S.QUAL
    assert after_insi_retrieval(after_document_check(S.PROV)) is S.QUAL


def test_reconcile_keeps_asserted_status_without_strict_change():
    assert reconcile_status(S.QUAL, S.QUAL, strict_changed=False, reattested=False) is S.QUAL


def test_reconcile_drops_unattested_strict_edit():
    assert reconcile_status(S.QUAL, S.QUAL, strict_changed=True, reattested=False) is S.PROV
    assert reconcile_status(S.VALI, S.VALI, strict_changed=True, reattested=False) is S.PROV


def test_reconcile_accepts_a_reattested_edit():
    assert reconcile_status(S.RECUP, S.QUAL, strict_changed=True, reattested=False) is S.QUAL
    assert reconcile_status(S.QUAL, S.QUAL, strict_changed=True, reattested=True) is S.QUAL
    assert reconcile_status(None, S.RECUP, strict_changed=True, reattested=False) is S.RECUP


def test_trust_rank():
    assert S.QUAL.rank > S.RECUP.rank == S.VALI.rank > S.PROV.rank
