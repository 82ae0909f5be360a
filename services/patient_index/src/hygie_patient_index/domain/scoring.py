"""Fellegi-Sunter scoring and the link decision.

Each field has, per comparison level, m = P(level | same person) and u = P(level |
different persons); the level's weight is log2(m/u) and a pair's match weight is the sum
over the fields with a value on both sides. The defaults below are set from the usual
proportions of a hospital population (they are replaced by EM estimates once trained).

Decision (identity vigilance prefers a duplicate to a collision):
- weight ≥ ``auto_link`` and no strict trait in outright disagreement and no other golden
  record within ``margin`` ⇒ link; if the weight is less than ``auto_link + confirm``
  above the threshold, the link is also put in the review queue for confirmation;
- ``review`` ≤ weight, or above ``auto_link`` but blocked by one of the guards ⇒ a new
  golden record and a review item naming the reason;
- below ``review`` ⇒ a new golden record.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from uuid import UUID

from . import comparators as c
from .comparators import MatchView

__all__ = [
    "DEFAULT_MODEL",
    "Decision",
    "FieldModel",
    "MatchModel",
    "Outcome",
    "PairScore",
    "Thresholds",
    "decide",
    "strict_disagreement",
    "tf_adjusted",
]

Comparator = Callable[[MatchView, MatchView], str | None]


@dataclass(frozen=True)
class FieldModel:
    """One compared field: its comparator and (m, u) per level."""

    name: str
    compare: Comparator
    levels: Mapping[str, tuple[float, float]]

    def weight(self, level: str) -> float:
        return self.weights[level]

    @cached_property
    def weights(self) -> dict[str, float]:
        """log2(m/u) per level, computed once."""
        return {level: math.log2(m / u) for level, (m, u) in self.levels.items()}


@dataclass(frozen=True)
class PairScore:
    """The match weight of a pair and what each field contributed (level, weight)."""

    weight: float
    contributions: dict[str, tuple[str, float]]

    @property
    def probability(self) -> float:
        """Match probability with a prior of one true pair in 10,000 candidate pairs."""
        prior = math.log2(1e-4 / (1 - 1e-4))
        return 1 / (1 + 2 ** -(self.weight + prior))

    def level(self, name: str) -> str | None:
        entry = self.contributions.get(name)
        return entry[0] if entry else None

    def as_dict(self) -> dict[str, object]:
        return {
            "weight": round(self.weight, 3),
            "fields": {
                k: {"level": lvl, "weight": round(w, 3)}
                for k, (lvl, w) in self.contributions.items()
            },
        }


@dataclass(frozen=True)
class MatchModel:
    fields: tuple[FieldModel, ...]

    def score(self, a: MatchView, b: MatchView) -> PairScore:
        contributions: dict[str, tuple[str, float]] = {}
        total = 0.0
        for f in self.fields:
            level = f.compare(a, b)
            if level is None:
                continue
            w = f.weight(level)
            contributions[f.name] = (level, w)
            total += w
        return PairScore(total, contributions)

    def with_levels(self, levels: Mapping[str, Mapping[str, tuple[float, float]]]) -> MatchModel:
        """The same comparators with new (m, u) (e.g. estimated by EM)."""
        return MatchModel(
            tuple(
                FieldModel(f.name, f.compare, {**f.levels, **levels.get(f.name, {})})
                for f in self.fields
            )
        )


DEFAULT_MODEL = MatchModel(
    (
        FieldModel(
            "family_name",
            c.compare_family_name,
            {
                "exact": (0.88, 0.002),
                "close": (0.06, 0.002),
                "alias": (0.03, 0.001),
                "phonetic": (0.015, 0.005),
                "similar": (0.01, 0.02),
                "swapped": (0.01, 0.0001),
                "different": (0.005, 0.97),
            },
        ),
        FieldModel(
            "given_name",
            c.compare_given_name,
            {
                "exact": (0.88, 0.01),
                "close": (0.05, 0.005),
                "partial": (0.04, 0.005),
                "phonetic": (0.01, 0.005),
                "similar": (0.01, 0.02),
                "swapped": (0.01, 0.0001),
                "different": (0.01, 0.955),
            },
        ),
        FieldModel(
            "birth_date",
            c.compare_birth_date,
            {
                "exact": (0.92, 0.00005),
                "swap": (0.01, 0.00001),
                "typo": (0.04, 0.0005),
                "year": (0.01, 0.01),
                "different": (0.02, 0.98945),
            },
        ),
        FieldModel("sex", c.compare_sex, {"same": (0.97, 0.5), "different": (0.03, 0.5)}),
        FieldModel(
            "birth_place",
            c.compare_birth_place,
            {"exact": (0.85, 0.01), "department": (0.05, 0.05), "different": (0.1, 0.94)},
        ),
        FieldModel(
            "postal_code",
            c.compare_postal_code,
            {"exact": (0.6, 0.02), "department": (0.2, 0.1), "different": (0.2, 0.88)},
        ),
        FieldModel(
            "city",
            c.compare_city,
            {"exact": (0.7, 0.05), "close": (0.1, 0.005), "different": (0.2, 0.945)},
        ),
        FieldModel(
            "street",
            c.compare_street,
            {"exact": (0.6, 0.001), "close": (0.15, 0.002), "different": (0.25, 0.997)},
        ),
        FieldModel(
            "phone",
            c.compare_phone,
            {"exact": (0.8, 0.0002), "typo": (0.05, 0.001), "different": (0.15, 0.9988)},
        ),
    )
)


def tf_adjusted(
    score: PairScore, model: MatchModel, *, field: str, frequency: float | None, floor: float = 1e-5
) -> PairScore:
    """Term-frequency adjustment of an exact agreement: two records sharing a common name
    (MARTIN) are less telling than two sharing a rare one, so the u of the ``exact`` level
    becomes the value's frequency in the index."""
    level = score.level(field)
    if frequency is None or level != "exact":
        return score
    f = next(x for x in model.fields if x.name == field)
    m = f.levels["exact"][0]
    new = math.log2(m / max(frequency, floor))
    old = score.contributions[field][1]
    contributions = {**score.contributions, field: ("exact", new)}
    return PairScore(score.weight - old + new, contributions)


#: A strict trait at one of these levels blocks an automatic link, however high the rest
#: of the weight: twins share family name, birth date, birth place, address and phone
#: and differ in given name (and sometimes sex); a father and his son of the same names
#: share everything but the birth date. The weights cannot see it (the traits they share
#: are not independent), so a human decides.
STRICT_DISAGREEMENT: dict[str, frozenset[str]] = {
    "given_name": frozenset({"different"}),
    "birth_date": frozenset({"year", "different"}),
    "sex": frozenset({"different"}),
}


#: The traits besides names and birth date that document who a person is (RNIV strict
#: traits). The twin and namesake guards apply to a pair only when one of them is known
#: on both sides: a human reviewer then has what it takes to tell twins apart, and the
#: records are the kind the rules are written for (French identities carry sex and
#: birth place). Records without either (Febrl, some foreign feeds) are decided by the
#: weights alone: a given name entered entirely differently with every other trait
#: agreeing then links, as the trained m of ``given_name: different`` says it should.
DOCUMENTING_TRAITS = ("sex", "birth_place")


def strict_disagreement(score: PairScore) -> bool:
    """A strict trait disagrees outright in a pair the guards apply to (see
    ``STRICT_DISAGREEMENT`` and ``DOCUMENTING_TRAITS``); a different sex always counts."""
    if score.level("sex") in STRICT_DISAGREEMENT["sex"]:
        return True
    if all(score.level(t) is None for t in DOCUMENTING_TRAITS):
        return False
    return any(score.level(f) in levels for f, levels in STRICT_DISAGREEMENT.items())


@dataclass(frozen=True)
class Thresholds:
    auto_link: float = 20.0
    review: float = 10.0
    margin: float = 4.0
    confirm: float = 2.0


class Outcome(StrEnum):
    LINK = "link"
    REVIEW = "review"
    NEW = "new"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    golden_id: UUID | None = None
    score: PairScore | None = None
    reason: str | None = None
    review: bool = False
    """True when the decision also opens a review item (LINK to confirm, or REVIEW)."""
    others: Sequence[tuple[UUID, PairScore]] = field(default_factory=tuple)


def decide(scored: Mapping[UUID, PairScore], thresholds: Thresholds) -> Decision:
    """The link decision for a new record given its best score per candidate golden record."""
    if not scored:
        return Decision(Outcome.NEW)
    ranked = sorted(scored.items(), key=lambda kv: kv[1].weight, reverse=True)
    best_id, best = ranked[0]
    others = tuple(ranked[1:])
    if best.weight < thresholds.review:
        return Decision(Outcome.NEW, score=best)
    if best.weight < thresholds.auto_link:
        return Decision(Outcome.REVIEW, best_id, best, "below-auto-link-threshold", True, others)
    if strict_disagreement(best):
        return Decision(Outcome.REVIEW, best_id, best, "strict-trait-disagreement", True, others)
    if others and others[0][1].weight >= best.weight - thresholds.margin:
        return Decision(Outcome.REVIEW, best_id, best, "competing-candidate", True, others)
    if best.weight < thresholds.auto_link + thresholds.confirm:
        return Decision(Outcome.LINK, best_id, best, "linked-close-to-threshold", True, others)
    return Decision(Outcome.LINK, best_id, best, None, False, others)
