"""The library's errors share one base, and bad input has one exit code.

A job exits with ``EXIT_BAD_INPUT`` when its input or configuration is bad (a clear message, no
traceback, no retry: the same input would fail again); any other exception is a crash that Airflow
may retry. The DAG side (``dags/interests_airflow``) reads the same constant.
"""

from __future__ import annotations

EXIT_BAD_INPUT = 2
"""Exit code of a job or command whose input or configuration is bad."""


class InterestsError(Exception):
    """Base of the errors the library raises on purpose."""


class BadInputError(InterestsError, RuntimeError):
    """Input the pipeline cannot run on (missing or empty landing day, a stage run out of order, bad argument)."""
