"""Learn item behaviour factors from the lookback window's engagements, tuning the grid on a time split.

    python jobs/learn_behaviour.py --ds 2026-11-20 [--run-id ID]

1. Engagements of the window (events_clean, weighted event types, catalog items).
2. Time split: the most recent day with engagements is held out. ALS is fitted on the days before it
   for each (rank, regularization) of the grid; every (text weight, half-life) is scored on the
   held-out day (user-level recall@10 on the tuning half of the sampled users). Logged and written
   to behaviour_tuning. A window with a single day of engagements has no split: the grid's middle
   values are used, and the night says so.
3. ALS with the chosen (rank, regularization) on the whole window; items nobody engaged with get
   factors predicted from their text (ridge), measured on held-back engaged items.
4. The factors are rotated into the orientation of the previous published night's (orthogonal
   Procrustes, behaviour/alignment.py), so the same item and user keep comparable vectors from night
   to night; scores within the night do not change.

Writes item_factors and behaviour_tuning for ds.
"""

from __future__ import annotations

import logging
import sys

import numpy as np
import pyarrow as pa

from interests.behaviour import als
from interests.behaviour.alignment import Alignment, align_factors
from interests.behaviour.text_mapping import mapping_quality
from interests.behaviour.tuning import (
    Scored,
    behaviour_matrix,
    choose,
    default_candidate,
    score_grid,
)
from interests.catalog import BEHAVIOUR_TUNING, ITEM_FACTORS, embedding_matrix
from interests.encoding.model_files import model_identity
from interests.evaluation.split import collect_split_sample
from interests.hierarchy.tables import embedding_array
from interests.night_inputs import read_catalog, window_engagements
from interests.publishing.nights import previous_night
from interests.runtime import BadInputError, JobContext, run_job

logger = logging.getLogger("jobs.learn_behaviour")

MIN_TUNING_USERS = 10
"""Fewer users with held-out engagements than this in the tuning half: the grid is not searched."""


def _factor_lists(matrix: np.ndarray | None, n: int) -> pa.Array:
    return pa.nulls(n, pa.list_(pa.float32())) if matrix is None else embedding_array(matrix)


def _align_to_previous_night(lake, ds: str, factors: np.ndarray, item_ids: list[str], max_width: int) -> Alignment:
    """Tonight's factors rotated onto the previous published night's (as readers saw them), if there is one."""
    previous = previous_night(lake, ds)
    if previous is None or ITEM_FACTORS.name not in previous.table_versions:
        logger.info("no published night before %s: the behaviour space keeps ALS's orientation", ds)
        return align_factors(factors, item_ids, None, None, max_width)
    rows = previous.read(lake, ITEM_FACTORS, columns=["item_id", "factors"])
    alignment = align_factors(factors, item_ids, embedding_matrix(rows.column("factors")),
                              rows.column("item_id").to_pylist(), max_width)
    logger.info("behaviour space aligned to %s over %d shared items: mean cosine %.4f before, %.4f after",
                previous.ds, alignment.shared_items, alignment.cosine_before, alignment.cosine_after)
    return alignment


def learn(context: JobContext) -> dict[str, int]:
    config, ds, lake = context.config, context.ds, context.spark_lake
    behaviour = config.behaviour
    model_version = model_identity(config.encoder.model_path, config.encoder.model_name).model_version

    night = read_catalog(lake, ds, model_version)
    text, catalog = night.text, night.index
    engagements = window_engagements(lake, ds, config).cache()
    n_engagements = engagements.count()
    if n_engagements == 0:
        raise BadInputError(
            f"no weighted engagement with a catalog item in the {config.hierarchy.lookback_days} days up to {ds}: "
            "nothing to learn behaviour from"
        )

    # ---- tuning on the time split
    split_start = als.last_day_start(engagements)
    scored: list[Scored] = []
    validation: dict[tuple[int, float], np.ndarray] = {}
    train, _ = als.split_at(engagements, split_start)
    sample = collect_split_sample(
        engagements, catalog, split_start, behaviour.validation_max_users, behaviour.seed, behaviour.positive_min_weight
    )
    tune_users = len(sample.rows(tune=True))
    if tune_users >= MIN_TUNING_USERS:
        train_ratings = als.ratings(train).cache()
        for rank in behaviour.ranks:
            for regularization in behaviour.regularizations:
                fit = als.fit_item_factors(
                    train_ratings, rank, regularization, behaviour.alpha, behaviour.max_iter, behaviour.seed,
                    behaviour.als_blocks,
                )
                validation[(rank, regularization)], _ = behaviour_matrix(
                    len(catalog), catalog.positions(fit.item_ids), fit.factors, text, behaviour.ridge_regularization
                )
        scored = score_grid(sample, text, validation, behaviour)
        best = choose(scored)
        chosen = best.candidate
        logger.info("chosen on %d tuning users: %s %s", tune_users, chosen, best.metrics)
        train_ratings.unpersist()
    else:
        chosen = default_candidate(behaviour)
        logger.warning(
            "only %d users to tune on (the window has no earlier day before %s): using the grid's middle %s",
            tune_users, split_start.date(), chosen,
        )

    # ---- the night's factors, on the whole window
    ratings = als.ratings(engagements)
    fit = als.fit_item_factors(
        ratings, chosen.rank, chosen.regularization, behaviour.alpha, behaviour.max_iter, behaviour.seed,
        behaviour.als_blocks,
    )
    positions = catalog.positions(fit.item_ids)
    factors, engaged = behaviour_matrix(len(catalog), positions, fit.factors, text, behaviour.ridge_regularization)
    quality = mapping_quality(
        text[engaged], factors[engaged], behaviour.ridge_regularization, behaviour.mapping_holdout_share, behaviour.seed
    )
    alignment = _align_to_previous_night(lake, ds, factors, catalog.item_ids.tolist(), max(behaviour.ranks))
    factors = alignment.factors
    per_item = engagements.groupBy("item_id").count().toArrow()
    counts_by_item = np.zeros(len(catalog), dtype=np.int64)
    counts_by_item[catalog.positions(per_item.column("item_id"))] = per_item.column("count").to_numpy()
    engagements.unpersist()

    n = len(catalog)
    lake.write_partition(ITEM_FACTORS, ds, pa.table({
        "ds": pa.array([ds] * n),
        "item_id": pa.array(catalog.item_ids.tolist(), pa.string()),
        "factors": _factor_lists(factors, n),
        "factors_source": pa.array(np.where(engaged, "engagement", "text").tolist()),
        "validation_factors": _factor_lists(validation.get((chosen.rank, chosen.regularization)), n),
        "n_engagements": pa.array(counts_by_item),
    }))
    rows = [s.as_row(chosen=s.candidate == chosen) for s in scored] or [
        Scored(chosen, {}).as_row(chosen=True)
    ]
    lake.write_partition(BEHAVIOUR_TUNING, ds, pa.Table.from_pylist([{"ds": ds, **row} for row in rows], schema=BEHAVIOUR_TUNING.schema))

    context.metrics.update({
        "chosen.rank": float(chosen.rank), "chosen.regularization": chosen.regularization,
        "chosen.text_weight": chosen.text_weight, "chosen.half_life_days": chosen.half_life_days,
        "text_mapping.cosine": quality["cosine"], "text_mapping.cosine_mean_only": quality["cosine_mean_only"],
        "text_mapping.r2": quality["r2"],
        "text_mapping.held_back": quality["held_back"],
        "alignment.shared_items": float(alignment.shared_items),
        "alignment.cosine_before": alignment.cosine_before, "alignment.cosine_after": alignment.cosine_after,
    })
    if scored:
        best = next(s for s in scored if s.candidate == chosen)
        context.metrics.update({f"tuning.{name}": value for name, value in best.metrics.items()})
    return {
        "engagements": n_engagements,
        "items": n,
        "items.engaged": int(engaged.sum()),
        "items.text_predicted": int((~engaged).sum()),
        "tuning.candidates": len(scored),
        "tuning.users": tune_users,
        "tuning.skipped": int(not scored),
    }


if __name__ == "__main__":
    sys.exit(run_job("learn_behaviour", learn))
