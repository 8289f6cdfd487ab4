"""The one builder of the SparkSession, driven by config.

Two ways a job gets its session:

- **Started with ``python jobs/<job>.py``** (tests, `make` targets before spark-submit): this builds
  the session itself, with ``spark.master`` from config and the Delta jars from ``spark.jars_dir``.
- **Started by spark-submit** (the DAG): the JVM is already running with the master, jars,
  py-files and resources that spark-submit was given, so those are left alone; only the SQL
  settings every job relies on are added.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from interests.config import PipelineConfig

logger = logging.getLogger(__name__)

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"


def launched_by_spark_submit() -> bool:
    """Whether this Python process is the driver of an application that spark-submit started.

    spark-submit starts the JVM first and hands the Python driver its gateway port.
    """
    return "PYSPARK_GATEWAY_PORT" in os.environ


def delta_jars(jars_dir: Path) -> list[Path]:
    """The Delta Lake jars resolved at install time, sorted; empty if there are none."""
    return sorted(jars_dir.glob("*.jar")) if jars_dir.is_dir() else []


def build_spark(config: PipelineConfig, job_name: str):
    """A SparkSession for one job: UTC, Arrow on, string partition values, Delta when its jars are there."""
    from pyspark.sql import SparkSession

    submitted = launched_by_spark_submit()
    builder = (
        SparkSession.builder.appName(f"{config.spark.app_name}-{job_name}")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(config.spark.shuffle_partitions))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
        # ds partition values stay strings ("2026-11-20"), as the catalog declares them.
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        # Parquet files the executors write for a Delta table: int64 microseconds (Delta's and Arrow's
        # timestamp), not Spark's legacy INT96; and no _SUCCESS marker among the table's files.
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
    )
    jars = delta_jars(config.spark.jars_dir)
    if not submitted:
        # Python workers must run the same interpreter as the driver (the project virtualenv).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        builder = (
            builder.master(config.spark.master)
            .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
            .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
        )
        if jars:
            builder = builder.config("spark.jars", ",".join(str(jar) for jar in jars))
    if not submitted:
        builder = builder.config("spark.driver.memory", config.spark.driver_memory)
    if config.env == "local" and isinstance(config.paths.lake_root, Path):
        # One machine (a standalone cluster on 127.0.0.1 included): no UI, loopback, the lake's warehouse.
        builder = (
            builder.config("spark.ui.enabled", "false")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.sql.warehouse.dir", str(config.paths.lake_root / "_spark_warehouse"))
        )
    if config.lake.engine == "delta-spark" and not submitted and not jars:
        from interests.config import ConfigError

        raise ConfigError(
            f"lake.engine is delta-spark but {config.spark.jars_dir} holds no Delta jars: run `make install` "
            "(scripts/spark_jars.sh resolves them), or set spark.jars_dir"
        )
    if (jars and not submitted) or config.lake.engine == "delta-spark":
        # Delta's SQL (DESCRIBE HISTORY delta.`path`) and catalog; harmless when delta-rs writes.
        # Under spark-submit the jars are whatever --jars gave, so only delta-spark asks for them.
        builder = builder.config("spark.sql.extensions", DELTA_EXTENSION).config(
            "spark.sql.catalog.spark_catalog", DELTA_CATALOG
        )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    logger.info(
        "Spark %s session %s on %s%s", spark.version, job_name, spark.sparkContext.master,
        " (spark-submit)" if submitted else "",
    )
    return spark
