"""Settings one run may override, above every other config source (no imports: the DAG files share it).

A new deployment that lands months of history in one day runs its first night with a longer lateness
bound and, if it wants, a longer lookback window (docs/operations.md, "Bootstrap"). Jobs take these as
``--max-lateness-days`` / ``--lookback-days`` (``runtime.parse_job_args``), the nightly DAG as run params
of the same names, and ``config.load_config(run_options=...)`` lays them over the configuration.
"""

from __future__ import annotations

RUN_OPTIONS: dict[str, tuple[str, str]] = {
    "max_lateness_days": ("cleaning", "max_lateness_days"),
    "lookback_days": ("hierarchy", "lookback_days"),
}
"""Option name -> (config section, field)."""


def option_flag(name: str) -> str:
    """The command-line flag of a run option: ``max_lateness_days`` -> ``--max-lateness-days``."""
    return f"--{name.replace('_', '-')}"
