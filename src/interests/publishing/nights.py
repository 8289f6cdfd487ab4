"""Which nights are published, and at which Delta version of each table: the pointer readers resolve.

A night's jobs write their ds partitions as they go, so the tables' newest versions can hold a night
that is still being built or that failed its gate. A night becomes *published* in one step: the
publish job appends its ``pipeline_runs`` row with status ``published`` (one Delta commit), after the
gate passed, naming the version of every table it checked. Readers (``interests.consume``, the
report, the next night's gate) never read a table's newest version; they resolve a night here and
read each table *as of the version its publication names* (Delta time travel). So a reader sees the
previous good night or the new one, never a mix, never a staged or failed one; and a rerun that
fails its gate leaves the earlier publication of that ds current.

The statuses of a ``pipeline_runs`` row (one row per publish attempt, keyed by ds and run id):

- ``staged``: the night's tables are written and their versions recorded; the gate has not passed yet.
- ``failed_quality``: the gate failed; ``quality_checks`` holds every check and why it failed.
- ``published``: the gate passed; this row is the pointer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from interests.catalog import PIPELINE_RUNS, TableSpec, validate_ds
from interests.errors import InterestsError
from interests.lake import Lake

STAGED, FAILED_QUALITY, PUBLISHED = "staged", "failed_quality", "published"
STATUSES = (STAGED, FAILED_QUALITY, PUBLISHED)


class NoPublishedNightError(InterestsError, LookupError):
    """No published night matches what was asked (none yet, or not that ds)."""


@dataclass(frozen=True)
class PublishedNight:
    """One publication: the ds it published and the Delta version of every table it checked."""

    ds: str
    run_id: str
    published_at: datetime
    table_versions: dict[str, int]
    row_counts: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    encoder_model_version: str = ""
    registered_models: dict[str, str] = field(default_factory=dict)

    def version_of(self, spec: TableSpec) -> int:
        """The Delta version of ``spec`` this night was published at."""
        try:
            return self.table_versions[spec.name]
        except KeyError:
            raise NoPublishedNightError(
                f"the publication of ds={self.ds} (run {self.run_id}) names no version of {spec.name}; "
                f"it names {sorted(self.table_versions)}"
            ) from None

    def read(self, lake: Lake, spec: TableSpec, columns: list[str] | None = None,
             filters: list[tuple[str, str, object]] | None = None) -> pa.Table:
        """The night's rows of a ds-partitioned table, read at the published version."""
        return lake.read(spec, ds=self.ds, columns=columns, filters=filters, version=self.version_of(spec))


def _night(row: dict) -> PublishedNight:
    return PublishedNight(
        ds=row["ds"], run_id=row["run_id"], published_at=row["published_at"],
        table_versions=dict(row["table_versions"]), row_counts=dict(row["row_counts"]),
        metrics=dict(row["metrics"]), encoder_model_version=row["encoder_model_version"],
        registered_models=dict(row["registered_models"]),
    )


def publish_attempts(lake: Lake, ds: str | None = None, as_of_version: int | None = None) -> list[dict]:
    """pipeline_runs rows (every status), oldest attempt first; ``as_of_version`` reads the table then."""
    rows = lake.read(PIPELINE_RUNS, ds=validate_ds(ds) if ds else None, version=as_of_version).to_pylist()
    return sorted(rows, key=lambda row: (row["published_at"], row["ds"], row["run_id"]))


def published_nights(lake: Lake, as_of_version: int | None = None) -> list[PublishedNight]:
    """The current publication of every published ds, oldest ds first.

    A ds published more than once (a rerun that passed its gate) is current at its latest publication;
    a later attempt that failed or only staged does not change it. ``as_of_version`` is a Delta version
    of ``pipeline_runs``: the nights as readers resolved them right after that commit.
    """
    current: dict[str, dict] = {}
    for row in publish_attempts(lake, as_of_version=as_of_version):
        if row["status"] == PUBLISHED:
            current[row["ds"]] = row
    return [_night(current[ds]) for ds in sorted(current)]


def resolve_night(lake: Lake, ds: str | None = None, as_of_version: int | None = None) -> PublishedNight:
    """The published night for ``ds`` (default: the latest published ds), optionally as of a pipeline_runs version."""
    nights = published_nights(lake, as_of_version)
    where = f" as of pipeline_runs version {as_of_version}" if as_of_version is not None else ""
    if not nights:
        raise NoPublishedNightError(f"no night is published under {lake.root}{where}")
    if ds is None:
        return nights[-1]
    validate_ds(ds)
    for night in nights:
        if night.ds == ds:
            return night
    shown = ", ".join(night.ds for night in nights[-5:])
    raise NoPublishedNightError(f"ds={ds} is not a published night under {lake.root}{where}; the latest published: {shown}")


def previous_night(lake: Lake, ds: str) -> PublishedNight | None:
    """The latest published night before ``ds`` (what tonight's gate compares against), or None."""
    earlier = [night for night in published_nights(lake) if night.ds < validate_ds(ds)]
    return earlier[-1] if earlier else None
