"""The shape of a web template: which RM objects fold into their parent, which RM
attributes become nodes (in EHRbase's order), every data value type, node ids."""

from __future__ import annotations

__all__ = ["ANY_VALUE", "EVENTS", "RM_ATTRS", "TRANSPARENT", "RmAttr", "build_id"]

TRANSPARENT = {"HISTORY", "ITEM_TREE", "ITEM_LIST", "ITEM_SINGLE", "ITEM_TABLE"}
EVENTS = {"EVENT", "POINT_EVENT", "INTERVAL_EVENT"}
#: every data value type, in the order EHRbase lists them for an unconstrained ELEMENT
ANY_VALUE = (
    "DV_TEXT",
    "DV_CODED_TEXT",
    "DV_MULTIMEDIA",
    "DV_PARSABLE",
    "DV_STATE",
    "DV_BOOLEAN",
    "DV_IDENTIFIER",
    "DV_URI",
    "DV_EHR_URI",
    "DV_DURATION",
    "DV_QUANTITY",
    "DV_COUNT",
    "DV_PROPORTION",
    "DV_DATE_TIME",
    "DV_TIME",
    "DV_ORDINAL",
    "DV_DATE",
)

#: RM attribute nodes: (attribute, rm type, min, max, in context); max 0 = accepted in FLAT
#: but not listed, max -2 = listed but not converted (shown as EHRbase shows it)
RmAttr = tuple[str, str, int, int, bool]
_ENTRY_TAIL: tuple[RmAttr, ...] = (
    ("subject", "PARTY_PROXY", 1, 1, True),
    ("language", "CODE_PHRASE", 1, 1, True),
    ("encoding", "CODE_PHRASE", 1, 1, True),
)
RM_ATTRS: dict[str, tuple[tuple[RmAttr, ...], tuple[RmAttr, ...]]] = {
    "COMPOSITION": (
        (("category", "DV_CODED_TEXT", 1, 1, True), ("context", "EVENT_CONTEXT", 1, 1, False)),
        (
            ("composer", "PARTY_PROXY", 1, 1, True),
            ("language", "CODE_PHRASE", 1, 1, True),
            ("territory", "CODE_PHRASE", 1, 1, True),
        ),
    ),
    "EVENT_CONTEXT": (
        (),
        (("start_time", "DV_DATE_TIME", 1, 1, True), ("setting", "DV_CODED_TEXT", 1, 1, True)),
    ),
    "OBSERVATION": ((), _ENTRY_TAIL),
    "EVALUATION": ((), _ENTRY_TAIL),
    "ADMIN_ENTRY": ((), _ENTRY_TAIL),
    "GENERIC_ENTRY": ((), ()),
    "INSTRUCTION": (
        (),
        (
            ("subject", "PARTY_PROXY", 1, 1, True),
            ("narrative", "DV_TEXT", 1, 1, True),
            ("language", "CODE_PHRASE", 1, 1, True),
            ("encoding", "CODE_PHRASE", 1, 1, True),
            ("expiry_time", "DV_DATE_TIME", 0, 1, False),
        ),
    ),
    "ACTION": (
        (),
        (
            *_ENTRY_TAIL,
            # INSTRUCTION_DETAILS, shown as EHRbase shows it; FLAT uses _instruction_details
            ("activity_id", "STRING", 1, -2, False),
            ("instruction_id", "LOCATABLE_REF", 1, -2, False),
            ("time", "DV_DATE_TIME", 1, 1, True),
            ("ism_transition", "ISM_TRANSITION", 1, 1, True),
        ),
    ),
    "ACTIVITY": (
        (),
        (
            ("timing", "DV_PARSABLE", 0, 1, True),
            ("action_archetype_id", "STRING", 1, 1, True),
        ),
    ),
    "EVENT": (
        (),
        (
            ("math_function", "DV_CODED_TEXT", 0, 0, False),
            ("width", "DV_DURATION", 0, 0, False),
            ("time", "DV_DATE_TIME", 1, 1, True),
        ),
    ),
    "POINT_EVENT": ((), (("time", "DV_DATE_TIME", 1, 1, True),)),
    "INTERVAL_EVENT": (
        (),
        (
            ("math_function", "DV_CODED_TEXT", 1, 1, False),
            ("width", "DV_DURATION", 1, 1, False),
            ("time", "DV_DATE_TIME", 1, 1, True),
        ),
    ),
    "ISM_TRANSITION": (
        (),
        (
            ("careflow_step", "DV_CODED_TEXT", 1, 1, True),
            ("current_state", "DV_CODED_TEXT", 1, 1, True),
            ("transition", "DV_CODED_TEXT", 0, 1, True),
        ),
    ),
}


def build_id(term: str) -> str:
    """A node id: lower case, every run of non-letters/digits (but ``.`` and ``-``) as
    one ``_``; an id starting with a digit gets an ``a`` in front."""
    text = "".join(
        ch if (ch.isalpha() or ch in "0123456789.-") else " " for ch in term.lower()
    ).split()
    out = "_".join(text)
    if not out:
        return "node"
    return "a" + out if out[0].isdigit() else out
