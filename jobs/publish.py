"""Publish one night: stage its tables, register candidate models, run the gate, then publish in one step.

    python jobs/publish.py --ds 2026-11-20 [--run-id ID]

``interests.publishing.publication`` has the steps. A night that fails the gate gets a pipeline_runs
row with status 'failed_quality' (every check and why) and the job exits 2 (bad input: a retry would
fail the same way); the last published night stays current for readers and MLflow's ``production``
alias does not move. The checks and row counts are Spark aggregations (launched by spark-submit in the
DAG, or a local session when run with python), so the driver holds one row of figures per table.
"""

from __future__ import annotations

import sys

from interests.publishing.publication import publish_night
from interests.runtime import JobContext, run_job


def publish(context: JobContext) -> dict[str, int]:
    return publish_night(context.spark_lake, context.config, context.ds, context.run_id)


if __name__ == "__main__":
    sys.exit(run_job("publish", publish))
