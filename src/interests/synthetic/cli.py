"""Command line for the synthetic landing-zone generator.

    python -m interests.synthetic.cli --preset small --end 2026-11-20 --days 3

`--end D` makes D the last generated day (days D-days+1 .. D), which is what a nightly run
for ds=D wants. `configure_parser` and `run` let a parent CLI mount this as a subcommand.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from interests.errors import EXIT_BAD_INPUT
from interests.synthetic.config import PRESETS, SyntheticConfig
from interests.synthetic.generator import DayReport, generate_landing

logger = logging.getLogger(__name__)

DEFAULT_LANDING = Path("data/landing")
DEFAULT_TRUTH = Path("data/truth")
DEFAULT_PRESET = "small"


def _iso_date(text: str) -> date:
    """Parse YYYY-MM-DD for argparse."""
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from error


def configure_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the generator's arguments to a (sub)parser."""
    parser.add_argument(
        "--landing",
        type=Path,
        default=DEFAULT_LANDING,
        help=f"landing zone root (default: {DEFAULT_LANDING})",
    )
    parser.add_argument(
        "--truth",
        type=Path,
        default=DEFAULT_TRUTH,
        help=f"planted-truth root, outside the landing zone (default: {DEFAULT_TRUTH})",
    )
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=DEFAULT_PRESET,
        help=f"named config to start from (default: {DEFAULT_PRESET})",
    )
    parser.add_argument("--users", type=int, help="override: number of users")
    parser.add_argument("--items", type=int, help="override: catalog size on the first day")
    parser.add_argument("--topics", type=int, help="override: topics (1..12)")
    parser.add_argument(
        "--subinterests",
        type=int,
        dest="subinterests_per_topic",
        help="override: sub-interests per topic (1..4)",
    )
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--start", type=_iso_date, help="first generated day, YYYY-MM-DD")
    when.add_argument(
        "--end", type=_iso_date, help="last generated day, YYYY-MM-DD (generates end-days+1 .. end)"
    )
    parser.add_argument("--days", type=int, help="override: number of days")
    parser.add_argument("--seed", type=int, help="override: random seed")
    parser.add_argument(
        "--dirt-rate",
        type=float,
        dest="dirt_rate",
        help="override: dirty lines per clean event line (0..0.5)",
    )
    parser.add_argument(
        "--bots-per-day", type=int, dest="bots_per_day", help="override: bot users per day"
    )
    parser.add_argument(
        "--gzip",
        action=argparse.BooleanOptionalAction,
        default=None,
        dest="gzip_events",
        help="write events as .jsonl.gz",
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The standalone parser."""
    parser = argparse.ArgumentParser(
        prog="python -m interests.synthetic.cli",
        description="Generate a seeded synthetic landing zone with a planted truth.",
    )
    return configure_parser(parser)


def config_from_args(args: argparse.Namespace) -> SyntheticConfig:
    """The preset with the command line's overrides applied (validated)."""
    preset = PRESETS[args.preset]
    names = (
        "users",
        "items",
        "topics",
        "subinterests_per_topic",
        "days",
        "seed",
        "dirt_rate",
        "bots_per_day",
        "gzip_events",
        "start",
    )
    overrides: dict[str, Any] = {
        name: getattr(args, name) for name in names if getattr(args, name, None) is not None
    }
    days = overrides.get("days", preset.days)
    if getattr(args, "end", None) is not None and days >= 1:  # days < 1 fails validation below
        overrides["start"] = args.end - timedelta(days=days - 1)
    return dataclasses.replace(preset, **overrides)


def _log_day(report: DayReport) -> None:
    """Log the one-line summary of a generated day."""
    logger.info("%s", report.summary())


def run(args: argparse.Namespace) -> int:
    """Generate from parsed arguments; return a process exit code."""
    try:
        config = config_from_args(args)
    except ValueError as error:
        logger.error("invalid configuration: %s", error)
        return EXIT_BAD_INPUT
    logger.info(
        "generating preset=%s days=%s..%s users=%d items=%d topics=%dx%d seed=%d into %s "
        "(truth in %s)",
        args.preset,
        config.start,
        config.end,
        config.users,
        config.items,
        config.topics,
        config.subinterests_per_topic,
        config.seed,
        args.landing,
        args.truth,
    )
    report = generate_landing(config, args.landing, args.truth, on_day=_log_day)
    logger.info(
        "done: %d event lines over %d days in %.2fs",
        report.event_lines,
        len(report.days),
        report.seconds,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, set up logging if nobody has, and generate."""
    args = build_parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
