"""The code version a night records (pipeline lineage in MLflow): the package version and, in a git checkout, the commit."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

from interests import __version__


@cache
def code_version() -> str:
    """``<package version>+g<commit>`` (``.dirty`` with uncommitted changes) in a git checkout, else the package version.

    Jobs run from the project root (spark-submit, ``python jobs/...``), where the checkout is; a library
    shipped as a zip or wheel without one records the package version alone.
    """
    source = Path(__file__).resolve().parent
    if not source.is_dir():  # imported from spark-submit's --py-files zip: the job runs from the project root
        source = Path.cwd()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=source, capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=source, capture_output=True,
            text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+g{commit}{'.dirty' if dirty else ''}" if commit else __version__
