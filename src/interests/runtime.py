"""The edge every job shares: arguments, logging, config, session, lake, stage counts, exit codes.

Exit codes: 0 success; 2 bad input or configuration (a clear message, no traceback; retrying will
not help); anything else is a failure with a traceback that Airflow may retry.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

import pyarrow as pa

from interests.catalog import STAGE_RUNS, InvalidDsError, validate_ds
from interests.config import ConfigError, PipelineConfig, load_config
from interests.errors import EXIT_BAD_INPUT, BadInputError
from interests.lake import Lake
from interests.run_options import RUN_OPTIONS, option_flag

logger = logging.getLogger(__name__)



def configure_logging(level: str | None = None) -> None:
    """One log format for every job and CLI command."""
    logging.basicConfig(
        level=level or os.environ.get("INTERESTS_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("py4j", "urllib3", "alembic", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@dataclass
class JobContext:
    """What one job run works with; the session is built on first use."""

    name: str
    ds: str
    run_id: str
    config: PipelineConfig
    counts: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    """Figures that are not counts (evaluation, tuning, mapping quality): the body fills them in."""

    @cached_property
    def spark(self):
        from interests.spark import build_spark

        return build_spark(self.config, self.name)

    @cached_property
    def lake(self) -> Lake:
        spark = self.spark if self.config.lake.engine == "delta-spark" else None
        return Lake(self.config.paths.lake_root, engine=self.config.lake.engine, spark=spark)

    @cached_property
    def spark_lake(self) -> Lake:
        """A Lake that can also read into Spark."""
        return Lake(self.config.paths.lake_root, engine=self.config.lake.engine, spark=self.spark)


def record_stage(
    lake: Lake, ds: str, stage: str, run_id: str, counts: dict[str, int], metrics: dict[str, float] | None = None
) -> None:
    """Replace the stage's counts and metrics for ds in stage_runs (publish reads them)."""
    row = {
        "ds": [ds], "stage": [stage], "run_id": [run_id],
        "counts": [sorted((key, int(value)) for key, value in counts.items())],
        "metrics": [sorted((key, float(value)) for key, value in (metrics or {}).items())],
        "finished_at": [datetime.now(UTC)],
    }
    lake.write_partition(STAGE_RUNS, ds, pa.table(row, schema=STAGE_RUNS.schema), where={"stage": stage})


NIGHT_STAGES = ("clean_events", "encode_texts", "learn_behaviour", "build_hierarchy")
"""The stages whose stage_runs rows are the night's lineage (publish and maintenance write rows too)."""


def stage_results(lake: Lake, ds: str) -> tuple[dict[str, int], dict[str, float]]:
    """The night's stage counts and metrics (stage_runs), each key prefixed by its stage."""
    rows = lake.read(STAGE_RUNS, ds=ds).to_pylist()
    counts: dict[str, int] = {}
    metrics: dict[str, float] = {}
    for row in sorted(rows, key=lambda r: r["stage"]):
        if row["stage"] not in NIGHT_STAGES:  # an earlier publish, or maintenance: not this night's lineage
            continue
        counts.update({f"{row['stage']}.{key}": value for key, value in row["counts"]})
        metrics.update({f"{row['stage']}.{key}": value for key, value in (row.get("metrics") or [])})
    return counts, metrics


def parse_job_args(name: str, argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"jobs/{name}.py", description=f"Run the {name} stage for one day.")
    parser.add_argument("--ds", required=True, help="the day to process, YYYY-MM-DD (the landing day)")
    parser.add_argument("--run-id", default=None, help="the orchestrator's run id (default: manual__<time>)")
    for option, (section, field_name) in RUN_OPTIONS.items():
        parser.add_argument(
            option_flag(option), type=_optional_int, default=None, metavar="N",
            help=f"this run only: {section}.{field_name} (a bootstrap night; empty = the configured value)",
        )
    return parser.parse_args(argv)


def _optional_int(text: str) -> int | None:
    """An option's integer, or None for an empty string (how the DAG passes an unset run param)."""
    if not text.strip():
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def run_options(args: argparse.Namespace) -> dict[str, int]:
    """The per-run options given on the command line (``RUN_OPTIONS``)."""
    return {name: getattr(args, name) for name in RUN_OPTIONS if getattr(args, name) is not None}


def run_job(
    name: str, body: Callable[[JobContext], dict[str, int]], argv: list[str] | None = None, stop_spark: bool = True
) -> int:
    """Run one job body with the shared edge; return the process exit code.

    ``stop_spark=False`` leaves the session running, for callers (tests) that share one session.
    """
    configure_logging()
    args = parse_job_args(name, argv)
    context: JobContext | None = None
    try:
        ds = validate_ds(args.ds)
        run_id = args.run_id or f"manual__{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"
        options = run_options(args)
        context = JobContext(name=name, ds=ds, run_id=run_id, config=load_config(run_options=options))
        if options:
            logger.info("%s ds=%s with this run's options: %s", name, ds, options)
        started = datetime.now(UTC)
        counts = body(context)
        counts.update({f"run.{option}": value for option, value in options.items()})
        record_stage(context.lake, ds, name, run_id, counts, context.metrics)
        seconds = (datetime.now(UTC) - started).total_seconds()
        logger.info("%s ds=%s done in %.1fs: %s", name, ds, seconds, dict(sorted(counts.items())))
        return 0
    except (BadInputError, ConfigError, InvalidDsError) as error:
        logger.error("%s: %s", name, error)
        return EXIT_BAD_INPUT
    finally:
        if stop_spark and context is not None and "spark" in context.__dict__:
            context.spark.stop()
