"""Tonight against the previous published night: row counts, vector drift, evaluation figures.

These checks of the gate (``publishing/gate.py`` has the ones on tonight's tables alone) catch a night
whose every table is well formed but whose content is not what yesterday's good night leads one to
expect: half the users gone, vectors that moved far for the same items and users, retrieval that got
much worse. The previous night is read at the Delta versions its publication names
(``publishing/nights.py``), so a failed or staged night in between is never the reference. The first
night of a lake has nothing to compare with: each check passes and says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from interests.catalog import ITEM_EMBEDDINGS, USER_EMBEDDINGS, TableSpec
from interests.config import QualityConfig
from interests.lake import Lake
from interests.publishing.nights import PublishedNight
from interests.publishing.quality import QualityCheck

DRIFT_TABLES = ((ITEM_EMBEDDINGS, "item_id", "min_item_cosine"), (USER_EMBEDDINGS, "user_id", "min_user_cosine"))
"""Tables whose vectors of the same key are compared with the previous night's, and their floor's setting."""


def row_count_checks(
    row_counts: Mapping[str, int], previous: PublishedNight | None, quality: QualityConfig
) -> list[QualityCheck]:
    """Each compared table's rows tonight within [min_row_ratio, max_row_ratio] x the previous night's."""
    checks = []
    for name in quality.row_ratio_tables:
        rows = row_counts.get(name, 0)
        before = None if previous is None else previous.row_counts.get(name)
        if not before:
            detail = "no previous published night" if previous is None else f"no rows on {previous.ds} to compare with"
            checks.append(QualityCheck(name, "row_count_vs_previous", True, f"{rows} rows; {detail}"))
            continue
        ratio = rows / before
        passed = quality.min_row_ratio <= ratio <= quality.max_row_ratio
        checks.append(QualityCheck(
            name, "row_count_vs_previous", passed,
            f"{rows} rows vs {before} on {previous.ds}: x{ratio:.3f} (allowed {quality.min_row_ratio:g}-{quality.max_row_ratio:g})",
        ))
    return checks


def mean_cosine(tonight: DataFrame, before: DataFrame, key: str) -> dict[str, float | int | None]:
    """Shared keys, how many differ in width, and the mean cosine of ``embedding`` over the same-width ones (Spark).

    Both sides are unit vectors, so the dot product is the cosine; only one row of figures reaches the driver.
    """
    joined = tonight.select(key, F.col("embedding").alias("_now")).join(
        before.select(key, F.col("embedding").alias("_before")), on=key, how="inner"
    )
    same_width = F.size("_now") == F.size("_before")
    dot = F.aggregate(
        F.zip_with("_now", "_before", lambda x, y: x.cast("double") * y.cast("double")),
        F.lit(0.0).cast("double"), lambda total, x: total + x,
    )
    row = joined.agg(
        F.count(F.lit(1)).alias("shared"),
        F.sum(F.when(same_width, 0).otherwise(1)).alias("other_width"),
        F.avg(F.when(same_width, dot)).alias("mean_cosine"),
    ).first()
    return {"shared": int(row["shared"]), "other_width": int(row["other_width"] or 0), "mean_cosine": row["mean_cosine"]}


def drift_checks(
    lake: Lake, ds: str, versions: Mapping[str, int | None], previous: PublishedNight | None,
    model_version: str, quality: QualityConfig,
) -> list[QualityCheck]:
    """Mean cosine of the same items' and users' vectors, tonight vs the previous night, above its floor.

    Not compared (the check passes and says why) when there is no previous night, when the encoder's
    model_version changed (a new model moves every vector on purpose), or when the vector width changed.
    """
    checks = []
    for spec, key, setting in DRIFT_TABLES:
        floor = getattr(quality, setting)
        if previous is None:
            checks.append(QualityCheck(spec.name, "drift_vs_previous", True, "no previous published night"))
            continue
        if previous.encoder_model_version != model_version:
            checks.append(QualityCheck(
                spec.name, "drift_vs_previous", True,
                f"not compared: the encoder changed ({previous.encoder_model_version} on {previous.ds}, {model_version} tonight)",
            ))
            continue
        figures = mean_cosine(_read(lake, spec, ds, versions.get(spec.name)),
                              _read(lake, spec, previous.ds, previous.version_of(spec)), key)
        shared, cosine = figures["shared"], figures["mean_cosine"]
        if figures["other_width"]:
            detail = f"not compared: {figures['other_width']} of {shared} shared {key}s changed width since {previous.ds}"
            checks.append(QualityCheck(spec.name, "drift_vs_previous", True, detail))
        elif shared == 0 or cosine is None:
            checks.append(QualityCheck(spec.name, "drift_vs_previous", True, f"no {key} shared with {previous.ds}"))
        else:
            passed = not math.isnan(cosine) and cosine >= floor
            checks.append(QualityCheck(
                spec.name, "drift_vs_previous", passed,
                f"mean cosine {cosine:.4f} over {shared} {key}s shared with {previous.ds} (min {floor:g})",
            ))
    return checks


def evaluation_checks(
    metrics: Mapping[str, float], previous: PublishedNight | None, quality: QualityConfig
) -> list[QualityCheck]:
    """Each compared evaluation figure tonight at least min_metric_fraction x the previous night's, unless
    the drop is within the noise of two means over few users (``metric_noise_sigmas`` standard errors).

    A compared figure is a mean over the night's evaluated users of a per-user value in [0, 1] (recall),
    whose variance is at most p (1 - p); so the standard error of a night's figure p over n users is at
    most sqrt(p (1 - p) / n), and of the difference of two independent nights the root of the sum of
    squares. On a night of ~35 evaluated users that is ~0.11 at recall 0.3: a 0.8 x ratio alone refused
    nights whose figure moved by noise (the tiny-preset soak), and so did 2 standard errors (nightly
    retuning on few users adds variance of its own); over 600 users it is ~0.026, over 3,000 ~0.012,
    so on real-sized nights the ratio decides.
    """
    checks = []
    for name in quality.compared_metrics:
        now, before = metrics.get(name), None if previous is None else previous.metrics.get(name)
        label = name.removeprefix("build_hierarchy.evaluation.")
        if before is None or math.isnan(before) or before <= 0:
            why = "no previous published night" if previous is None else f"no figure on {previous.ds} to compare with"
            checks.append(QualityCheck("evaluation", f"{label}_vs_previous", True, f"{_figure(now)} tonight; {why}"))
            continue
        if now is None or math.isnan(now):
            checks.append(QualityCheck(
                "evaluation", f"{label}_vs_previous", False,
                f"no figure tonight (the night was not evaluated) vs {before:.4f} on {previous.ds}",
            ))
            continue
        least = quality.min_metric_fraction * before
        detail = f"{now:.4f} vs {before:.4f} on {previous.ds} (min {quality.min_metric_fraction:g} x = {least:.4f})"
        passed = now >= least
        if not passed and quality.metric_noise_sigmas > 0:
            noise = quality.metric_noise_sigmas * math.hypot(
                _standard_error(now, metrics.get(quality.evaluation_users_metric)),
                _standard_error(before, previous.metrics.get(quality.evaluation_users_metric)),
            )
            passed = before - now <= noise
            detail += (f"; the drop {before - now:.4f} is {'within' if passed else 'beyond'} "
                       f"{quality.metric_noise_sigmas:g} standard errors ({noise:.4f})")
        checks.append(QualityCheck("evaluation", f"{label}_vs_previous", passed, detail))
    return checks


def _standard_error(mean: float, users: float | None) -> float:
    """The largest standard error of a mean ``mean`` of values in [0, 1] over ``users`` users (0 when unknown)."""
    if users is None or math.isnan(users) or users < 1:
        return 0.0
    p = min(max(mean, 0.0), 1.0)
    return math.sqrt(p * (1.0 - p) / users)


def _figure(value: float | None) -> str:
    return "none" if value is None or math.isnan(value) else f"{value:.4f}"


def _read(lake: Lake, spec: TableSpec, ds: str, version: int | None) -> DataFrame:
    return lake.read_spark(spec, ds=ds, version=version).select(spec.key[-1], "embedding")
