"""Estimating the m and u probabilities of the Fellegi-Sunter model from the data.

As the reference record-linkage tools do: u (agreement by chance) is estimated from
random pairs, which are almost all non-matches; m is then estimated by
expectation-maximisation on the blocked pairs with u held fixed, together with the
proportion λ of matches among them. Laplace smoothing keeps every level possible.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .comparators import MatchView
from .scoring import MatchModel

__all__ = ["Levels", "Trained", "comparison_vector", "estimate_m", "estimate_u"]

Vector = Mapping[str, str | None]
Levels = dict[str, dict[str, tuple[float, float]]]


@dataclass(frozen=True)
class Trained:
    levels: Levels
    match_share: float
    iterations: int
    pairs: int


def comparison_vector(model: MatchModel, a: MatchView, b: MatchView) -> dict[str, str | None]:
    return {f.name: f.compare(a, b) for f in model.fields}


def _shares(
    model: MatchModel, vectors: Sequence[Vector], weights: Sequence[float]
) -> dict[str, dict[str, float]]:
    """Weighted share of each level per field (Laplace-smoothed)."""
    out: dict[str, dict[str, float]] = {}
    for f in model.fields:
        counts: Counter[str] = Counter()
        total = 0.0
        for v, w in zip(vectors, weights, strict=True):
            level = v.get(f.name)
            if level is not None:
                counts[level] += w  # type: ignore[assignment]
                total += w
        k = len(f.levels)
        out[f.name] = {lvl: (counts[lvl] + 0.01) / (total + 0.01 * k) for lvl in f.levels}
    return out


def estimate_u(model: MatchModel, random_pairs: Sequence[Vector]) -> dict[str, dict[str, float]]:
    """u per field and level from random pairs."""
    return _shares(model, random_pairs, [1.0] * len(random_pairs))


def estimate_m(
    model: MatchModel,
    blocked_pairs: Sequence[Vector],
    u: Mapping[str, Mapping[str, float]],
    *,
    iterations: int = 25,
    tolerance: float = 1e-5,
) -> Trained:
    """m per field and level by EM on blocked pairs, u fixed."""
    m = {f.name: {lvl: mu[0] for lvl, mu in f.levels.items()} for f in model.fields}
    share = 0.1
    done = 0
    for done in range(1, iterations + 1):  # noqa: B007 - the count is reported
        posteriors = []
        for v in blocked_pairs:
            log_m = math.log(share)
            log_u = math.log(1 - share)
            for name, level in v.items():
                if level is None:
                    continue
                log_m += math.log(m[name][level])
                log_u += math.log(u[name][level])
            top = max(log_m, log_u)
            pm, pu = math.exp(log_m - top), math.exp(log_u - top)
            posteriors.append(pm / (pm + pu))
        new_share = min(max(sum(posteriors) / max(len(posteriors), 1), 1e-6), 1 - 1e-6)
        new_m = _shares(model, blocked_pairs, posteriors)
        delta = max(abs(new_m[f][lvl] - m[f][lvl]) for f in m for lvl in m[f])
        m, share = new_m, new_share
        if delta < tolerance:
            break
    levels: Levels = {f: {lvl: (m[f][lvl], u[f][lvl]) for lvl in m[f]} for f in m}
    return Trained(levels, share, done, len(blocked_pairs))
