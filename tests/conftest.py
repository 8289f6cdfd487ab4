"""Shared fixtures: one local SparkSession per test session, a tmp lake per test, tiny landing zones."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from interests.config import PipelineConfig, load_config

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """One local[2] session for the whole test run: UI off, UTC, few shuffle partitions, loopback."""
    from interests.spark import build_spark

    config = load_config(
        environ={
            "INTERESTS_SPARK__MASTER": "local[2]",
            "INTERESTS_SPARK__SHUFFLE_PARTITIONS": "2",
            "INTERESTS_SPARK__DRIVER_MEMORY": "2g",
            "INTERESTS_PATHS__LAKE_ROOT": str(tmp_path_factory.mktemp("spark-lake")),
        }
    )
    session = build_spark(config, "tests")
    yield session
    session.stop()


@pytest.fixture
def config(tmp_path) -> PipelineConfig:
    """The committed config with a tmp landing zone and lake."""
    return load_config(
        environ={
            "INTERESTS_PATHS__LANDING_ROOT": str(tmp_path / "landing"),
            "INTERESTS_PATHS__LAKE_ROOT": str(tmp_path / "lake"),
        }
    )


@pytest.fixture(autouse=True)
def _mlflow_uri_stays_per_test():
    """Each test starts with the process's MLflow URIs as they were.

    ``mlflow.set_tracking_uri`` (called by ``register_night``) also exports MLFLOW_TRACKING_URI, which
    ``PipelineConfig.mlflow_uri`` honours first: without this, a test that publishes would send every
    later test's registrations to its own, by then deleted, store.
    """
    saved = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
