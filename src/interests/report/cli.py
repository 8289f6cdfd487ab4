"""`interests report`: write a published night's HTML report (the subcommand lives here, cli.py adds it)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from interests.errors import EXIT_BAD_INPUT

logger = logging.getLogger(__name__)

DEFAULT_REPORTS_DIR = Path("data/reports")


def add_command(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``report`` to the ``interests`` subcommands."""
    report = commands.add_parser(
        "report", help="write a published night's self-contained HTML report (topics, map, users, churn, gate)"
    )
    report.add_argument("--ds", default=None, help="a published night (default: the latest published)")
    report.add_argument("--out", default=None, help=f"HTML file to write (default: {DEFAULT_REPORTS_DIR}/<ds>.html)")
    report.set_defaults(handler=run_report)
    return report


def run_report(args: argparse.Namespace) -> int:
    """Write the report; exit 2 with one line when there is no such published night."""
    from interests.config import load_config
    from interests.lake import Lake
    from interests.publishing.nights import NoPublishedNightError
    from interests.report import write_report

    config = load_config()
    try:
        path = write_report(Lake(config.paths.lake_root), out=args.out, ds=args.ds, reports_dir=DEFAULT_REPORTS_DIR)
    except NoPublishedNightError as error:
        logger.error("%s", error)
        return EXIT_BAD_INPUT
    print(path)
    return 0
