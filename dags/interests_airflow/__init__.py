"""Helpers shared by the DAG files in this folder (not DAGs themselves: see ``.airflowignore``).

Airflow puts the DAGs folder on ``sys.path`` (dag processor, workers and ``airflow dags test``
alike), so DAG files import this package as ``interests_airflow``. It must stay light: it is
imported every time a DAG file is parsed.
"""

from interests_airflow.operators import BAD_INPUT_EXIT_CODE, SparkJobOperator

__all__ = ["BAD_INPUT_EXIT_CODE", "SparkJobOperator"]
