"""The few openEHR terminology groups a web template lists and the FLAT format fills in
(rubrics in English, as EHRbase and Better show them)."""

from __future__ import annotations

__all__ = ["OPENEHR", "openehr_rubric"]

OPENEHR: dict[str, str] = {
    # composition category
    "431": "persistent",
    "433": "event",
    "451": "episodic",
    # setting
    "225": "home",
    "227": "emergency care",
    "228": "primary medical care",
    "229": "primary nursing care",
    "230": "primary allied health care",
    "231": "midwifery care",
    "232": "secondary medical care",
    "233": "secondary nursing care",
    "234": "secondary allied health care",
    "235": "complementary health care",
    "236": "dental care",
    "237": "nursing home care",
    "238": "other care",
    # event math function
    "144": "maximum",
    "145": "minimum",
    "146": "mean",
    "147": "change",
    "148": "total",
    "149": "variation",
    "267": "mode",
    "268": "median",
    "521": "decrease",
    "522": "increase",
    "640": "actual",
    # instruction states (ISM_TRANSITION.current_state)
    "524": "initial",
    "526": "planned",
    "527": "postponed",
    "528": "cancelled",
    "529": "scheduled",
    "245": "active",
    "530": "suspended",
    "531": "aborted",
    "532": "completed",
    "533": "expired",
    # null flavours
    "253": "unknown",
    "271": "no information",
    "272": "masked",
    "273": "not applicable",
}


def openehr_rubric(code: str) -> str | None:
    """The rubric of an openEHR terminology code, if this module knows it."""
    return OPENEHR.get(code)
