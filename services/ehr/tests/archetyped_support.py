"""Small operational templates rooted at EHR_STATUS and FOLDER (the EHRbase suite has
none), written the way Ocean Template Designer writes OPTs, for the validation tests."""

from __future__ import annotations

_ONE = "<lower_included>true</lower_included><upper_included>true</upper_included>"


def _interval(lower: int, upper: int | None) -> str:
    if upper is None:
        return (
            "<lower_included>true</lower_included><lower_unbounded>false</lower_unbounded>"
            f"<upper_unbounded>true</upper_unbounded><lower>{lower}</lower>"
        )
    return (
        f"{_ONE}<lower_unbounded>false</lower_unbounded><upper_unbounded>false</upper_unbounded>"
        f"<lower>{lower}</lower><upper>{upper}</upper>"
    )


def _coded(codes: list[str]) -> str:
    return (
        '<children xsi:type="C_COMPLEX_OBJECT"><rm_type_name>DV_CODED_TEXT</rm_type_name>'
        f"<occurrences>{_interval(1, 1)}</occurrences><node_id/>"
        '<attributes xsi:type="C_SINGLE_ATTRIBUTE"><rm_attribute_name>defining_code'
        f"</rm_attribute_name><existence>{_interval(1, 1)}</existence>"
        '<children xsi:type="C_CODE_PHRASE"><rm_type_name>CODE_PHRASE</rm_type_name>'
        f"<occurrences>{_interval(1, 1)}</occurrences><node_id/>"
        "<terminology_id><value>local</value></terminology_id>"
        + "".join(f"<code_list>{c}</code_list>" for c in codes)
        + "</children></attributes></children>"
    )


def _element(node: str, lower: int, value: str) -> str:
    return (
        '<children xsi:type="C_COMPLEX_OBJECT"><rm_type_name>ELEMENT</rm_type_name>'
        f"<occurrences>{_interval(lower, 1)}</occurrences><node_id>{node}</node_id>"
        '<attributes xsi:type="C_SINGLE_ATTRIBUTE"><rm_attribute_name>value</rm_attribute_name>'
        f"<existence>{_interval(0, 1)}</existence>{value}</attributes></children>"
    )


_TEXT = (
    '<children xsi:type="C_COMPLEX_OBJECT"><rm_type_name>DV_TEXT</rm_type_name>'
    f"<occurrences>{_interval(1, 1)}</occurrences><node_id/></children>"
)


def _tree(attribute: str, elements: str) -> str:
    return (
        f'<attributes xsi:type="C_SINGLE_ATTRIBUTE"><rm_attribute_name>{attribute}'
        f"</rm_attribute_name><existence>{_interval(1, 1)}</existence>"
        '<children xsi:type="C_COMPLEX_OBJECT"><rm_type_name>ITEM_TREE</rm_type_name>'
        f"<occurrences>{_interval(1, 1)}</occurrences><node_id>at0001</node_id>"
        '<attributes xsi:type="C_MULTIPLE_ATTRIBUTE"><rm_attribute_name>items'
        f"</rm_attribute_name><existence>{_interval(1, 1)}</existence>{elements}"
        "<cardinality><is_ordered>true</is_ordered><is_unique>false</is_unique>"
        f"<interval>{_interval(1, None)}</interval></cardinality></attributes>"
        "</children></attributes>"
    )


def _terms(terms: dict[str, str]) -> str:
    return "".join(
        f'<term_definitions code="{code}"><items id="text">{text}</items>'
        f'<items id="description">{text}</items></term_definitions>'
        for code, text in terms.items()
    )


def _opt(template_id: str, rm_type: str, archetype_id: str, body: str, terms: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<template xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns="http://schemas.openehr.org/v1">'
        "<language><terminology_id><value>ISO_639-1</value></terminology_id>"
        "<code_string>en</code_string></language>"
        '<description><original_author id="Original Author">Hygie tests</original_author>'
        "<lifecycle_state>Initial</lifecycle_state><details><language><terminology_id>"
        "<value>ISO_639-1</value></terminology_id><code_string>en</code_string></language>"
        "<purpose>tests</purpose></details></description>"
        f"<template_id><value>{template_id}</value></template_id>"
        f"<concept>{template_id}</concept>"
        f"<definition><rm_type_name>{rm_type}</rm_type_name>"
        f"<occurrences>{_interval(1, 1)}</occurrences><node_id>at0000</node_id>{body}"
        f"<archetype_id><value>{archetype_id}</value></archetype_id>"
        f"<template_id><value>{template_id}</value></template_id>{terms}"
        "</definition></template>"
    ).encode()


STATUS_TEMPLATE = "hygie.ehr_status.consent.v0"
STATUS_ARCHETYPE = "openEHR-EHR-EHR_STATUS.consent.v0"
FOLDER_TEMPLATE = "hygie.folder.episode.v0"
FOLDER_ARCHETYPE = "openEHR-EHR-FOLDER.episode.v0"

#: EHR_STATUS whose other_details must say whether the patient consents to research use
#: (coded at0003 yes / at0004 no) and may hold a free-text note.
STATUS_OPT = _opt(
    STATUS_TEMPLATE,
    "EHR_STATUS",
    STATUS_ARCHETYPE,
    _tree(
        "other_details",
        _element("at0002", 1, _coded(["at0003", "at0004"])) + _element("at0005", 0, _TEXT),
    ),
    _terms(
        {
            "at0000": "Consent status",
            "at0001": "Tree",
            "at0002": "Research consent",
            "at0003": "Yes",
            "at0004": "No",
            "at0005": "Note",
        }
    ),
)

#: FOLDER whose details must give the kind of episode (coded at0003 inpatient / at0004
#: outpatient).
FOLDER_OPT = _opt(
    FOLDER_TEMPLATE,
    "FOLDER",
    FOLDER_ARCHETYPE,
    _tree("details", _element("at0002", 1, _coded(["at0003", "at0004"]))),
    _terms(
        {
            "at0000": "Episode",
            "at0001": "Tree",
            "at0002": "Kind",
            "at0003": "Inpatient",
            "at0004": "Outpatient",
        }
    ),
)


def _coded_element(node: str, name: str, code: str, text: str) -> dict:  # type: ignore[type-arg]
    return {
        "_type": "ELEMENT",
        "archetype_node_id": node,
        "name": {"_type": "DV_TEXT", "value": name},
        "value": {
            "_type": "DV_CODED_TEXT",
            "value": text,
            "defining_code": {
                "_type": "CODE_PHRASE",
                "terminology_id": {"_type": "TERMINOLOGY_ID", "value": "local"},
                "code_string": code,
            },
        },
    }


def _details(items: list) -> dict:  # type: ignore[type-arg]
    return {
        "_type": "ITEM_TREE",
        "archetype_node_id": "at0001",
        "name": {"_type": "DV_TEXT", "value": "Tree"},
        "items": items,
    }


def _archetype_details(archetype: str, template: str) -> dict:  # type: ignore[type-arg]
    return {
        "_type": "ARCHETYPED",
        "archetype_id": {"_type": "ARCHETYPE_ID", "value": archetype},
        "template_id": {"_type": "TEMPLATE_ID", "value": template},
        "rm_version": "1.0.4",
    }


def consent_status(subject: str, code: str = "at0003", *, template: str = STATUS_TEMPLATE) -> dict:  # type: ignore[type-arg]
    """An EHR_STATUS of the consent template (valid with at0003 or at0004)."""
    return {
        "_type": "EHR_STATUS",
        "archetype_node_id": STATUS_ARCHETYPE,
        "name": {"_type": "DV_TEXT", "value": "Consent status"},
        "archetype_details": _archetype_details(STATUS_ARCHETYPE, template),
        "subject": {
            "_type": "PARTY_SELF",
            "external_ref": {
                "_type": "PARTY_REF",
                "id": {"_type": "GENERIC_ID", "value": subject, "scheme": "ipp"},
                "namespace": "ipp.site-a",
                "type": "PERSON",
            },
        },
        "is_queryable": True,
        "is_modifiable": True,
        "other_details": _details([_coded_element("at0002", "Research consent", code, "Yes")]),
    }


def episode_folder(name: str, code: str = "at0003") -> dict:  # type: ignore[type-arg]
    """A FOLDER of the episode template (valid with at0003 or at0004)."""
    return {
        "_type": "FOLDER",
        "archetype_node_id": FOLDER_ARCHETYPE,
        "name": {"_type": "DV_TEXT", "value": name},
        "archetype_details": _archetype_details(FOLDER_ARCHETYPE, FOLDER_TEMPLATE),
        "details": _details([_coded_element("at0002", "Kind", code, "Inpatient")]),
    }
