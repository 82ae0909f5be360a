"""Patient merges seen from the EHR store: the EHR_STATUS of an EHR whose patient was
merged into a survivor (re-pointed to the survivor, or retired behind the survivor's own
EHR), and the status that undoes it. Pure functions on canonical JSON."""

from __future__ import annotations

import copy
from typing import Any
from uuid import UUID

__all__ = [
    "GOLDEN_NAMESPACE",
    "MERGE_DETAILS_NAME",
    "repointed_status",
    "restored_status",
    "retired_status",
]

#: EHR_STATUS.subject.external_ref.namespace of the patient index's golden ids
GOLDEN_NAMESPACE = "hygie-patient"
#: the name of the ITEM_TREE this service keeps in EHR_STATUS.other_details
MERGE_DETAILS_NAME = "Hygie patient merge"


def _text(value: str) -> dict[str, Any]:
    return {"_type": "DV_TEXT", "value": value}


def _element(node: str, name: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"_type": "ELEMENT", "archetype_node_id": node, "name": _text(name), "value": value}


def _identifier(patient: UUID) -> dict[str, Any]:
    return {"_type": "DV_IDENTIFIER", "issuer": GOLDEN_NAMESPACE, "id": str(patient)}


def _ours(status: dict[str, Any]) -> bool:
    details = status.get("other_details")
    return (
        isinstance(details, dict) and (details.get("name") or {}).get("value") == MERGE_DETAILS_NAME
    )


def _with_details(status: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    """Our merge note in other_details — unless the client keeps its own there (then the
    link lives only in the store's ehr_link table and the version's audit)."""
    if status.get("other_details") is None or _ours(status):
        status["other_details"] = {
            "_type": "ITEM_TREE",
            "archetype_node_id": "at0000",
            "name": _text(MERGE_DETAILS_NAME),
            "items": items,
        }
    return status


def _set_subject(status: dict[str, Any], patient: UUID) -> None:
    subject = status.setdefault("subject", {"_type": "PARTY_SELF"})
    ref = subject.get("external_ref") or {}
    ref_id = dict(ref.get("id") or {"_type": "GENERIC_ID", "scheme": GOLDEN_NAMESPACE})
    ref_id["value"] = str(patient)
    subject["external_ref"] = {
        "_type": "PARTY_REF",
        "type": "PERSON",
        **ref,
        "id": ref_id,
        "namespace": GOLDEN_NAMESPACE,
    }


def repointed_status(status: dict[str, Any], *, merged: UUID, survivor: UUID) -> dict[str, Any]:
    """The merged patient's EHR becomes the survivor's (it had none)."""
    out = copy.deepcopy({k: v for k, v in status.items() if k != "uid"})
    _set_subject(out, survivor)
    return _with_details(out, [_element("at0001", "previous subject", _identifier(merged))])


def retired_status(
    status: dict[str, Any], *, merged: UUID, survivor: UUID, survivor_ehr: UUID
) -> dict[str, Any]:
    """The merged patient's EHR stays (its subject too) but is closed for writing and
    points at the survivor's EHR, which is the one EHR of the surviving patient."""
    out = copy.deepcopy({k: v for k, v in status.items() if k != "uid"})
    out["is_modifiable"] = False
    return _with_details(
        out,
        [
            _element("at0002", "merged into patient", _identifier(survivor)),
            _element(
                "at0003",
                "merged into EHR",
                {"_type": "DV_EHR_URI", "value": f"ehr://{survivor_ehr}"},
            ),
        ],
    )


def restored_status(
    status: dict[str, Any], *, patient: UUID, was_modifiable: bool, repointed: bool
) -> dict[str, Any]:
    """The status after an unmerge: the patient's own subject and flags again."""
    out = copy.deepcopy({k: v for k, v in status.items() if k != "uid"})
    if repointed:
        _set_subject(out, patient)
    out["is_modifiable"] = was_modifiable
    if _ours(out):
        del out["other_details"]
    return out
