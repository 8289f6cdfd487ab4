"""The nightly report: one self-contained HTML page per published night (``interests report``)."""

from __future__ import annotations

import logging
from pathlib import Path

from interests.lake import Lake

logger = logging.getLogger(__name__)


def write_report(lake: Lake, out: Path | str | None = None, ds: str | None = None,
                 reports_dir: Path | str = Path("data/reports")) -> Path:
    """Write the report of a published night (default: the latest) to ``out`` (default ``<reports_dir>/<ds>.html``)."""
    from interests.report.figures import gather_report
    from interests.report.html import render_report

    figures = gather_report(lake, ds)
    path = Path(out) if out is not None else Path(reports_dir) / f"{figures['ds']}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    page = render_report(figures)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(page, encoding="utf-8")
    temporary.replace(path)  # a reader (a browser, a web server) never sees half a page
    logger.info("report for ds=%s: %s (%d KB)", figures["ds"], path, len(page.encode()) // 1024)
    return path
