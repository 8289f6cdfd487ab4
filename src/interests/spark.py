"""The one builder of the SparkSession, driven by config."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from interests.config import PipelineConfig

logger = logging.getLogger(__name__)


def build_spark(config: PipelineConfig, job_name: str):
    """A SparkSession for one job: UTC, Arrow on, string partition values, UI off locally."""
    from pyspark.sql import SparkSession

    # Python workers must run the same interpreter as the driver (the project virtualenv).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.appName(f"{config.spark.app_name}-{job_name}")
        .master(config.spark.master)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(config.spark.shuffle_partitions))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
        # ds partition values stay strings ("2026-11-20"), as the catalog declares them.
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
    )
    if config.env == "local" and isinstance(config.paths.lake_root, Path):
        builder = (
            builder.config("spark.ui.enabled", "false")
            .config("spark.driver.memory", config.spark.driver_memory)
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.sql.warehouse.dir", str(config.paths.lake_root / "_spark_warehouse"))
        )
    if config.lake.engine == "delta-spark":
        builder = builder.config(
            "spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension"
        ).config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    logger.info("Spark %s session %s on %s", spark.version, job_name, config.spark.master)
    return spark
