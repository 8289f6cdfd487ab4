"""MLflow pyfunc wrappers of the encoder and the hierarchy, and their registration.

The encoder is registered once per model_version (its weights hash) and reused on later nights;
the hierarchy (topic and sub-interest centroids) gets a new version every night the publish job
stages, tagged with ds, the Delta table versions it came from and the code version, so
``models:/interests-hierarchy/<n>`` reproduces that night's assignments.

Aliases say which versions a consumer should load: ``candidate`` moves to the night under review
before its gate runs; ``production`` moves to it only after the gate passed (and the night became
current for the tables' readers). A consumer loads ``models:/interests-encoder@production`` and
``models:/interests-hierarchy@production``: encode a text, then place it in the hierarchy.
``production`` never moves back to an older ds than the one it names (a rerun of an old night, or
nights of a backfill finishing out of order, leave it on the newest published night's models).

Several nights may register at once (a backfill). On a sqlite store, whose first use creates its
schema with migrations that fail when processes race them, registration holds a file lock beside
the database (``registry_lock``); that also makes "the encoder once per model_version" hold.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from mlflow.pyfunc import PythonModel

logger = logging.getLogger(__name__)

ENCODER_MODEL_NAME = "interests-encoder"
HIERARCHY_MODEL_NAME = "interests-hierarchy"
EXPERIMENT_NAME = "interests-nightly"
CANDIDATE, PRODUCTION = "candidate", "production"
MODEL_NAMES = (ENCODER_MODEL_NAME, HIERARCHY_MODEL_NAME)


class EncoderPyfunc(PythonModel):
    """Texts in, L2-normalized embeddings out (one list of floats per text)."""

    def load_context(self, context):
        from interests.encoding.transformer import TransformerEncoder

        config = json.loads(Path(context.artifacts["encoder_config"]).read_text())
        self._encoder = TransformerEncoder(model_path=context.artifacts["model_dir"], **config)

    def predict(self, context, model_input, params=None):
        texts = list(model_input["text"]) if hasattr(model_input, "columns") else list(model_input)
        return self._encoder.encode(texts).tolist()


class HierarchyPyfunc(PythonModel):
    """Embeddings in, nearest topic and sub-interest (by cosine to the centroids) out."""

    def load_context(self, context):
        data = np.load(context.artifacts["centroids"], allow_pickle=False)
        self._topic_ids = data["topic_ids"].tolist()
        self._topic_centroids = data["topic_centroids"]
        self._sub_ids = data["subinterest_ids"].tolist()
        self._sub_parents = data["subinterest_parents"].tolist()
        self._sub_centroids = data["subinterest_centroids"]

    def predict(self, context, model_input, params=None):
        import pandas as pd

        rows = model_input["embedding"] if hasattr(model_input, "columns") else model_input
        matrix = np.asarray([np.asarray(row, dtype=np.float32) for row in rows])
        topics = np.argmax(matrix @ self._topic_centroids.T, axis=1)
        results = []
        for row, topic in zip(matrix, topics):
            topic_id = self._topic_ids[topic]
            candidates = [i for i, parent in enumerate(self._sub_parents) if parent == topic_id]
            best = candidates[int(np.argmax(self._sub_centroids[candidates] @ row))]
            results.append((topic_id, self._sub_ids[best]))
        return pd.DataFrame(results, columns=["topic_id", "subinterest_id"])


def _centroid_matrix(rows: pa.Table) -> np.ndarray:
    from interests.catalog import embedding_matrix

    return embedding_matrix(rows["centroid"])


def save_hierarchy_artifact(topics: pa.Table, folder: Path) -> Path:
    """Write the night's centroids and ids as one .npz the hierarchy pyfunc loads."""
    topic_rows = topics.filter(pc.equal(topics["level"], "topic")).sort_by("node_id")
    sub_rows = topics.filter(pc.equal(topics["level"], "subinterest")).sort_by("node_id")
    path = folder / "centroids.npz"
    np.savez(
        path,
        topic_ids=np.array(topic_rows["node_id"].to_pylist()),
        topic_centroids=_centroid_matrix(topic_rows),
        subinterest_ids=np.array(sub_rows["node_id"].to_pylist()),
        subinterest_parents=np.array(sub_rows["parent_id"].to_pylist()),
        subinterest_centroids=_centroid_matrix(sub_rows),
    )
    return path


def _pip_requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("mlflow", "numpy", "pandas", "torch", "transformers")]


REGISTRY_LOCK_TIMEOUT_S = 900
"""How long a registration waits for another process's (a few seconds each; a backfill queues them)."""


def registry_lock(tracking_uri: str) -> contextlib.AbstractContextManager:
    """A lock held while registering, shared by every process using the same sqlite store; none for a server."""
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix):
        return contextlib.nullcontext()
    from filelock import FileLock

    database = Path(tracking_uri[len(prefix):])
    database.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(f"{database}.lock", timeout=REGISTRY_LOCK_TIMEOUT_S)


def _existing_encoder_version(client, model_version: str) -> str | None:
    versions = client.search_model_versions(f"name = '{ENCODER_MODEL_NAME}'")
    for candidate in versions:
        if candidate.tags.get("model_version") == model_version:
            return str(candidate.version)
    return None


def register_night(
    tracking_uri: str, artifact_root: Path | None, ds: str, run_id: str, model_dir: Path, model_version: str,
    encoder_config: dict, topics: pa.Table, params: dict[str, str], metrics: dict[str, float],
    table_versions: dict[str, int] | None = None, code_version: str = "",
) -> dict[str, str]:
    """Log the night as an MLflow run; register the encoder (once per version) and the hierarchy as ``candidate``.

    ``mlflow.set_tracking_uri`` also exports MLFLOW_TRACKING_URI, which the config honours first; the
    process's variables are put back afterwards, so a later night in the same process (a test, a
    backfill in-process) still writes to its own store.
    """
    saved = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    try:
        with registry_lock(tracking_uri):
            return _register_night(tracking_uri, artifact_root, ds, run_id, model_dir, model_version, encoder_config,
                                   topics, params, metrics, table_versions, code_version)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _register_night(
    tracking_uri: str, artifact_root: Path | None, ds: str, run_id: str, model_dir: Path, model_version: str,
    encoder_config: dict, topics: pa.Table, params: dict[str, str], metrics: dict[str, float],
    table_versions: dict[str, int] | None, code_version: str,
) -> dict[str, str]:
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
    if experiment is None:
        location = artifact_root.as_uri() if artifact_root is not None else None
        experiment_id = client.create_experiment(EXPERIMENT_NAME, artifact_location=location)
    else:
        experiment_id = experiment.experiment_id
    registered: dict[str, str] = {}
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"nightly-{ds}", tags={"ds": ds, "orchestrator_run_id": run_id}) as run:
        lineage = {f"table_version.{name}": str(version) for name, version in sorted((table_versions or {}).items())}
        lineage["code_version"] = code_version
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        mlflow.set_tags(lineage)
        encoder_version = _existing_encoder_version(client, model_version)
        if encoder_version is None:
            with tempfile.TemporaryDirectory() as folder:
                config_path = Path(folder) / "encoder_config.json"
                config_path.write_text(json.dumps(encoder_config, sort_keys=True))
                info = mlflow.pyfunc.log_model(
                    name="encoder", python_model=EncoderPyfunc(),
                    artifacts={"model_dir": str(model_dir), "encoder_config": str(config_path)},
                    registered_model_name=ENCODER_MODEL_NAME, pip_requirements=_pip_requirements(),
                )
            encoder_version = str(info.registered_model_version)
            client.set_model_version_tag(ENCODER_MODEL_NAME, encoder_version, "model_version", model_version)
            logger.info("registered %s version %s (%s)", ENCODER_MODEL_NAME, encoder_version, model_version)
        registered[ENCODER_MODEL_NAME] = encoder_version
        with tempfile.TemporaryDirectory() as folder:
            centroids = save_hierarchy_artifact(topics, Path(folder))
            info = mlflow.pyfunc.log_model(
                name="hierarchy", python_model=HierarchyPyfunc(), artifacts={"centroids": str(centroids)},
                registered_model_name=HIERARCHY_MODEL_NAME, pip_requirements=_pip_requirements(),
            )
        hierarchy_version = str(info.registered_model_version)
        tags = {"ds": ds, "encoder_model_version": model_version, "mlflow_run_id": run.info.run_id,
                "orchestrator_run_id": run_id, "gate": "pending", **lineage}
        for key, value in tags.items():
            client.set_model_version_tag(HIERARCHY_MODEL_NAME, hierarchy_version, key, value)
        registered[HIERARCHY_MODEL_NAME] = hierarchy_version
        registered["mlflow_run_id"] = run.info.run_id
        mlflow.set_tags({f"registered.{name}": version for name, version in registered.items() if name != "mlflow_run_id"})
    for name in MODEL_NAMES:
        client.set_registered_model_alias(name, CANDIDATE, registered[name])
    logger.info("MLflow run %s registered %s (alias %s)", registered["mlflow_run_id"], registered, CANDIDATE)
    return registered


def mark_gate_result(tracking_uri: str, registered: dict[str, str], passed: bool) -> None:
    """Tag the night's hierarchy version with the gate's result; if it passed, move ``production`` to the night's versions.

    Not when ``production`` already names a newer ds: it stays on the newest published night's models.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    with registry_lock(tracking_uri):
        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        version = registered[HIERARCHY_MODEL_NAME]
        client.set_model_version_tag(HIERARCHY_MODEL_NAME, version, "gate", "passed" if passed else "failed")
        if not passed:
            return
        ds = client.get_model_version(HIERARCHY_MODEL_NAME, version).tags.get("ds", "")
        try:
            current = client.get_model_version_by_alias(HIERARCHY_MODEL_NAME, PRODUCTION).tags.get("ds", "")
        except MlflowException:
            current = ""
        if current > ds:
            logger.info("%s stays on ds=%s's models: ds=%s is older", PRODUCTION, current, ds)
            return
        for name in MODEL_NAMES:
            client.set_registered_model_alias(name, PRODUCTION, registered[name])


def alias_versions(tracking_uri: str, alias: str) -> dict[str, str]:
    """The version each registered model's ``alias`` points to (models without it are left out)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    versions = {}
    for name in MODEL_NAMES:
        try:
            versions[name] = str(client.get_model_version_by_alias(name, alias).version)
        except MlflowException:
            continue
    return versions
