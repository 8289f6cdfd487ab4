"""The `interests` command: generate synthetic data, summarize or evaluate a night.

    interests generate --preset small --end 2026-11-20
    interests summary --ds 2026-11-20
    interests evaluate --ds 2026-11-20 --truth data/truth
    interests check-landing --ds 2026-11-20
    interests check-night --ds 2026-11-20
    interests export-index --out index/ [--ds 2026-11-20] [--kind hnsw]
    interests report [--ds 2026-11-20] [--out report.html]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from interests.catalog import OUTPUT_TABLES, PIPELINE_RUNS, table, validate_ds
from interests.config import load_config
from interests.errors import EXIT_BAD_INPUT, InterestsError
from interests.runtime import configure_logging

if TYPE_CHECKING:
    from interests.lake import Lake

logger = logging.getLogger(__name__)

NIGHT_TABLES = ("events_clean", "item_embeddings", "topics", "user_embeddings")
"""Tables a published night has rows in for its ds (the quality gate requires rows in these)."""


def _night_problems(lake: Lake, ds: str, since: datetime | None = None) -> list[str]:
    """Why ds is not a published night: night tables without rows for it, no successful publish.

    With ``since``, a publish before that time (an earlier run of the same ds) does not count.
    """
    empty = [name for name in NIGHT_TABLES if lake.read(table(name), ds=ds, columns=["ds"]).num_rows == 0]
    problems = [f"no rows in {', '.join(empty)}"] if empty else []
    runs = lake.read(PIPELINE_RUNS, ds=ds, columns=["run_id", "status", "published_at"]).to_pylist()
    recent = [row for row in runs if since is None or row["published_at"] >= since]
    if not runs:
        problems.append("no publish attempt in pipeline_runs")
    elif not recent:
        last = max(row["published_at"] for row in runs)
        problems.append(f"no publish attempt since {since:%Y-%m-%dT%H:%M:%SZ} (the last was at {last:%Y-%m-%dT%H:%M:%SZ})")
    else:
        latest = max(recent, key=lambda row: row["published_at"])
        if latest["status"] != "published":
            problems.append(f"last publish {latest['status']} (run {latest['run_id']})")
    return problems


def _night_missing(ds: str, lake_root: Path | str, problems: list[str]) -> str:
    """The one line that says a night is not there, and what is missing."""
    return (f"the night ds={ds} did not produce its tables under {lake_root}: {'; '.join(problems)} "
            "(see the night's Airflow task logs)")


def _summary(args: argparse.Namespace) -> int:
    from interests.lake import Lake

    config = load_config()
    ds = validate_ds(args.ds)
    lake = Lake(config.paths.lake_root)
    lines = [f"Night ds={ds}: Delta tables under {config.paths.lake_root}", ""]
    lines.append(f"  {'table':<20} {'rows':>10} {'version':>8}  path")
    for name in OUTPUT_TABLES + ("text_embeddings",):
        spec = table(name)
        rows = lake.read(spec, ds=ds if "ds" in spec.partition_by else None, columns=[spec.key[-1]]).num_rows
        version = lake.version(spec)
        lines.append(f"  {name:<20} {rows:>10,} {'-' if version is None else version:>8}  {lake.path(spec)}")
    problems = _night_problems(lake, ds)
    if problems:
        # The row counts show what is there; the night's figures and topic recovery need the night.
        print("\n".join(lines))
        logger.error("%s", _night_missing(ds, config.paths.lake_root, problems))
        return EXIT_BAD_INPUT
    runs = lake.read(PIPELINE_RUNS, ds=ds).to_pylist()
    if runs:
        latest = max(runs, key=lambda row: row["published_at"])
        lines += ["", (f"  last publish: {latest['status']} (run {latest['run_id']}, quality passed: "
                       f"{latest['quality_passed']}), models: {dict(latest['registered_models'])}")]
    from interests.evaluation.report import headline, night_metrics

    lines += ["", f"  {headline(night_metrics(lake, ds))}", f"  (all figures: interests evaluate --ds {ds})"]
    if args.truth:
        from interests.evaluation import read_truth_items, topic_recovery

        scores = topic_recovery(lake.read(table("item_embeddings"), ds=ds), read_truth_items(Path(args.truth)))
        lines += ["", (f"  planted truth recovered: topic NMI {scores['topic_nmi']:.3f}, "
                       f"sub-interest NMI {scores['subinterest_nmi']:.3f} over {int(scores['items'])} items")]
    lines += [
        "",
        "Look at them:",
        (f"  .venv/bin/python -c \"from deltalake import DeltaTable; "
         f"print(DeltaTable('{lake.path(table('user_topics'))}').to_pandas().head())\""),
        f"  make mlflow-ui      # MLflow UI on http://127.0.0.1:5000 ({config.mlflow_uri})",
        "  make airflow        # Airflow UI (airflow standalone) for the DAG runs",
    ]
    print("\n".join(lines))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from interests.evaluation.report import evaluation, evaluation_lines, night_metrics
    from interests.lake import Lake

    config = load_config()
    ds = validate_ds(args.ds)
    lake = Lake(config.paths.lake_root)
    metrics = night_metrics(lake, ds)
    if not metrics:
        logger.error("no figures for ds=%s under %s: run the night first", ds, config.paths.lake_root)
        return EXIT_BAD_INPUT
    result: dict = {"retrieval": evaluation(metrics)}
    if args.truth:
        from interests.evaluation import read_truth_items, topic_recovery

        result["topic_recovery"] = topic_recovery(lake.read(table("item_embeddings"), ds=ds), read_truth_items(Path(args.truth)))
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
        return 0
    lines = [f"Night ds={ds}: next-day retrieval, the most recent day of engagements held out", ""]
    lines += evaluation_lines(metrics)
    if args.truth:
        scores = result["topic_recovery"]
        lines += ["", (f"planted truth recovered: topic NMI {scores['topic_nmi']:.3f}, "
                       f"sub-interest NMI {scores['subinterest_nmi']:.3f} over {int(scores['items'])} items")]
    print("\n".join(lines))
    return 0


def _utc_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"--since {value!r} is not an ISO-8601 time, e.g. 2026-11-21T03:00:00Z") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _check_night(args: argparse.Namespace) -> int:
    """Exit 2 unless ds has a published pipeline_runs row and its night tables have rows."""
    from interests.lake import Lake

    config = load_config()
    ds = validate_ds(args.ds)
    lake = Lake(config.paths.lake_root)
    problems = _night_problems(lake, ds, _utc_time(args.since) if args.since else None)
    if problems:
        logger.error("%s", _night_missing(ds, config.paths.lake_root, problems))
        return EXIT_BAD_INPUT
    logger.info("night ds=%s published with rows in %s", ds, ", ".join(NIGHT_TABLES))
    return 0


def _check_landing(args: argparse.Namespace) -> int:
    from interests.landing import LandingDayError, require_landing_day

    config = load_config()
    try:
        require_landing_day(config.paths.landing_root, "events", validate_ds(args.ds))
    except LandingDayError as error:
        logger.error("%s", error)
        return EXIT_BAD_INPUT
    logger.info("landing day ds=%s is present under %s", args.ds, config.paths.landing_root)
    return 0


def _generate(args: argparse.Namespace) -> int:
    from interests.synthetic.cli import run

    return run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="interests", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    from interests.synthetic.cli import configure_parser

    generate = configure_parser(commands.add_parser("generate", help="write a synthetic landing zone and its planted truth"))
    generate.set_defaults(handler=_generate)
    summary = commands.add_parser("summary", help="where a night's tables are, their row counts, how to look")
    summary.add_argument("--ds", required=True)
    summary.add_argument("--truth", default=None, help="planted-truth folder: also print topic recovery (NMI)")
    summary.set_defaults(handler=_summary)
    check = commands.add_parser("check-landing", help="fail (exit 2) if the landing day's events are missing or empty")
    check.add_argument("--ds", required=True)
    check.set_defaults(handler=_check_landing)
    night = commands.add_parser("check-night", help="fail (exit 2) unless the night for ds was published with its tables")
    night.add_argument("--ds", required=True)
    night.add_argument("--since", default=None, help="ISO-8601 time (UTC if no offset): only a publish since then counts")
    night.set_defaults(handler=_check_night)
    evaluate = commands.add_parser(
        "evaluate", help="a night's retrieval figures against its baselines (and NMI against a planted truth)"
    )
    evaluate.add_argument("--ds", required=True)
    evaluate.add_argument("--truth", default=None, help="planted-truth folder of generated data: also print topic NMI")
    evaluate.add_argument("--json", action="store_true", help="print the figures as JSON")
    evaluate.set_defaults(handler=_evaluate)
    from interests.consume.index import add_command as add_export_index_command

    add_export_index_command(commands)
    from interests.report.cli import add_command as add_report_command

    add_report_command(commands)
    from interests.consume.commands import add_commands

    add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, InterestsError) as error:
        logger.error("%s", error)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
