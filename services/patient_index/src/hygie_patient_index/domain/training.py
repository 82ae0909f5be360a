"""Estimating the m and u probabilities of the Fellegi-Sunter model from the data.

As the reference record-linkage tools do: u (agreement by chance) is estimated from
random pairs, which are almost all non-matches; m is then estimated by
expectation-maximisation on the blocked pairs with u held fixed, together with the
proportion λ of matches among them. Laplace smoothing keeps every level possible.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .blocking import RULE_FIELDS, blocking_keys, rule_of
from .comparators import MatchView
from .scoring import MatchModel

__all__ = [
    "Levels",
    "Trained",
    "blocked_pairs_by_rule",
    "comparison_vector",
    "estimate_m",
    "estimate_m_by_rule",
    "estimate_u",
    "random_vectors",
    "train_on_views",
]

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
    model: MatchModel,
    vectors: Sequence[Vector],
    weights: Sequence[float],
    *,
    prior: Mapping[str, Mapping[str, float]] | None = None,
    prior_pairs: float = 0.0,
) -> dict[str, dict[str, float]]:
    """Weighted share of each level per field: Laplace-smoothed, or with ``prior_pairs``
    pseudo-pairs distributed as ``prior`` (a Dirichlet prior: a level too rare to be seen
    among the sampled pairs keeps a share near its prior instead of near zero)."""
    out: dict[str, dict[str, float]] = {}
    for f in model.fields:
        counts: Counter[str] = Counter()
        total = 0.0
        for v, w in zip(vectors, weights, strict=True):
            level = v.get(f.name)
            if level is not None:
                counts[level] += w  # type: ignore[assignment]
                total += w
        if prior is not None and prior_pairs > 0:
            p = prior[f.name]
            out[f.name] = {
                lvl: (counts[lvl] + prior_pairs * p[lvl]) / (total + prior_pairs)
                for lvl in f.levels
            }
            continue
        k = len(f.levels)
        out[f.name] = {lvl: (counts[lvl] + 0.01) / (total + 0.01 * k) for lvl in f.levels}
    return out


def estimate_u(
    model: MatchModel, random_pairs: Sequence[Vector], *, prior_pairs: float = 0.0
) -> dict[str, dict[str, float]]:
    """u per field and level from random pairs; with ``prior_pairs``, the model's own u
    count as that many pseudo-pairs (rare levels — two random persons born the same day
    — are seen a handful of times in a sample, or never)."""
    prior = {f.name: {lvl: mu[1] for lvl, mu in f.levels.items()} for f in model.fields}
    return _shares(
        model, random_pairs, [1.0] * len(random_pairs), prior=prior, prior_pairs=prior_pairs
    )


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


def estimate_m_by_rule(
    model: MatchModel,
    blocked: Mapping[str, Sequence[Vector]],
    u: Mapping[str, Mapping[str, float]],
    *,
    rule_fields: Mapping[str, frozenset[str]] = RULE_FIELDS,
    min_pairs: int = 50,
) -> Trained:
    """EM once per blocking rule on the pairs it blocks (as Splink trains one session per
    rule); a field's m is the mean over the sessions whose rule leaves it free (a rule
    holding a field constant says nothing of how often it disagrees for the same person).
    A field free in no session keeps its m from the model. With no rule giving
    ``min_pairs`` pairs (a small index), one EM runs on all the pairs together."""
    sessions: list[tuple[frozenset[str], Trained]] = []
    for rule, pairs in blocked.items():
        if len(pairs) >= min_pairs:
            sessions.append((rule_fields.get(rule, frozenset()), estimate_m(model, pairs, u)))
    if not sessions:
        pooled = [v for pairs in blocked.values() for v in pairs]
        return estimate_m(model, pooled, u) if pooled else Trained(_levels(model, u), 0.0, 0, 0)
    levels: Levels = {}
    for f in model.fields:
        free = [t for fixed, t in sessions if f.name not in fixed]
        levels[f.name] = {}
        for lvl, (m0, _) in f.levels.items():
            m = sum(t.levels[f.name][lvl][0] for t in free) / len(free) if free else m0
            levels[f.name][lvl] = (m, u[f.name][lvl])
    share = sum(t.match_share for _, t in sessions) / len(sessions) if sessions else 0.0
    return Trained(
        levels,
        share,
        max((t.iterations for _, t in sessions), default=0),
        sum(t.pairs for _, t in sessions),
    )


def _levels(model: MatchModel, u: Mapping[str, Mapping[str, float]]) -> Levels:
    return {
        f.name: {lvl: (mu[0], u[f.name][lvl]) for lvl, mu in f.levels.items()} for f in model.fields
    }


def random_vectors(
    model: MatchModel, views: Sequence[MatchView], count: int, rng: random.Random
) -> list[dict[str, str | None]]:
    """Comparison vectors of ``count`` random pairs (almost all non-matches)."""
    out = []
    for _ in range(count):
        a, b = rng.sample(range(len(views)), 2)
        out.append(comparison_vector(model, views[a], views[b]))
    return out


def blocked_pairs_by_rule(
    views: Sequence[MatchView], *, max_block: int = 50
) -> dict[str, set[tuple[int, int]]]:
    """Index pairs sharing a blocking key, per rule (blocks larger than ``max_block`` are
    left out: frequent values say little and cost quadratically)."""
    blocks: dict[str, list[int]] = defaultdict(list)
    for i, v in enumerate(views):
        for key in blocking_keys(v.record, v):
            blocks[key].append(i)
    pairs: dict[str, set[tuple[int, int]]] = defaultdict(set)
    for key, members in blocks.items():
        if 1 < len(members) <= max_block:
            rule = pairs[rule_of(key)]
            for k, a in enumerate(members):
                rule.update((a, b) for b in members[k + 1 :])
    return dict(pairs)


def train_on_views(
    model: MatchModel,
    views: Sequence[MatchView],
    *,
    random_pairs: int = 200_000,
    per_rule: int = 50_000,
    seed: int | None = None,
    blocked: Mapping[str, Iterable[tuple[int, int]]] | None = None,
) -> Trained:
    """u from random pairs, m by EM per blocking rule, on the given records (no labels:
    what ``hygie patients train`` does on the index)."""
    rng = random.Random(seed)
    u = estimate_u(model, random_vectors(model, views, random_pairs, rng), prior_pairs=1000)
    pairs = blocked if blocked is not None else blocked_pairs_by_rule(views)
    vectors: dict[str, list[dict[str, str | None]]] = {}
    for rule, idx in pairs.items():
        chosen = sorted(idx)
        if len(chosen) > per_rule:
            chosen = rng.sample(chosen, per_rule)
        vectors[rule] = [comparison_vector(model, views[a], views[b]) for a, b in chosen]
    return estimate_m_by_rule(model, vectors, u)
