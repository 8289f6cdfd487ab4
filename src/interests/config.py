"""Typed pipeline configuration: conf/base/*.yml, then conf/local/*.yml, then environment variables.

Environment overrides use ``INTERESTS_<SECTION>__<FIELD>`` (double underscore between the
section and the field), e.g. ``INTERESTS_PATHS__LAKE_ROOT=/mnt/lake``; ``INTERESTS_ENV`` sets the
top-level environment switch. A bad value fails at load time with the file or variable named.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from interests.errors import InterestsError
from interests.run_options import RUN_OPTIONS, option_flag

logger = logging.getLogger(__name__)

HOME_ENV = "INTERESTS_HOME"
PROJECT_ROOT = Path(os.environ.get(HOME_ENV) or Path(__file__).resolve().parents[2])
"""The checkout root (conf/, jobs/, dags/ live here): ``INTERESTS_HOME``, else the folder above src/.

spark-submit imports this package from the shipped zip (``--py-files``), whose parent is not the
checkout, so the DAG passes INTERESTS_HOME to every submitted job."""

ENV_PREFIX = "INTERESTS_"
EVENT_TYPES = ("impression", "click", "like", "share", "purchase", "dwell", "search")


class ConfigError(InterestsError, ValueError):
    """A configuration file or variable holds a value the pipeline cannot use."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _local_or_uri(value: Any) -> Any:
    """Keep a URI (s3://, abfss://, hdfs://...) a string; make anything else a local Path."""
    if isinstance(value, (str, Path)) and "://" not in str(value):
        return Path(value)
    return value


StorageRoot = Annotated[Path | str, BeforeValidator(_local_or_uri)]
"""A local folder (Path, resolved against the project root) or a storage URI (str, kept as is)."""


class PathsConfig(_Section):
    landing_root: StorageRoot = Field(
        Path("data/landing"), description="Root of the landing zone (input contract): a folder or a URI."
    )
    lake_root: StorageRoot = Field(
        Path("data/lake"), description="Root of the Delta lake, one folder per table: a folder or a URI."
    )
    mlflow_tracking_uri: str = Field(
        "", description="MLflow tracking/registry URI; empty means sqlite under <lake_root>/_mlflow."
    )


class SparkConfig(_Section):
    master: str = Field("local[*]", description="Spark master URL (local[*] or a cluster's).")
    shuffle_partitions: int = Field(8, ge=1, description="spark.sql.shuffle.partitions.")
    driver_memory: str = Field("4g", description="spark.driver.memory for local runs.")
    app_name: str = Field("interests", description="Prefix of the Spark application name.")
    jars_dir: Path = Field(
        Path(".spark-jars"),
        description="Folder of the Delta Lake jars, resolved at install time (scripts/spark_jars.sh); "
        "a job started without spark-submit puts them on its classpath.",
    )


class LakeConfig(_Section):
    engine: Literal["delta-rs", "delta-spark"] = Field(
        "delta-rs", description="delta-rs (embedded default) or delta-spark (clusters with the Delta jars)."
    )


class CleaningConfig(_Section):
    max_future_skew_minutes: int = Field(60, ge=0, description="Events later than ds end + this are rejected.")
    max_lateness_days: int = Field(3, ge=0, description="Events older than ds start - this are rejected.")
    dedupe_window_days: int | None = Field(
        None, ge=0, description="An event whose event_id is in events_clean of this many landing days before "
        "ds is a duplicate (a replayed file). Empty = max_lateness_days + 1, which covers every replay the "
        "lateness check lets through; 0 = within the day only.",
    )
    max_events_per_minute: int = Field(
        120, ge=1, description="A user above this many events in one minute is a bot; all its events are rejected."
    )
    max_text_chars: int = Field(20000, ge=1, description="Item and user texts are truncated to this many characters.")

    @property
    def dedupe_days(self) -> int:
        """The landing days before ds whose clean event ids make a repeat a duplicate."""
        return self.max_lateness_days + 1 if self.dedupe_window_days is None else self.dedupe_window_days


class EncoderConfig(_Section):
    model_path: str = Field("", description="Local Hugging Face model directory; empty = packaged MiniLM.")
    model_name: str = Field("all-MiniLM-L6-v2", description="Human name of the model, part of model_version.")
    batch_size: int = Field(64, ge=1, le=4096, description="Texts per forward pass.")
    max_length: int = Field(256, ge=8, le=8192, description="Tokens per text; longer texts are truncated.")
    device: str = Field("auto", description="auto (cuda if available, else cpu), cpu, cuda or cuda:N.")
    backend: Literal["auto", "torch", "bf16"] = Field(
        "auto", description="How the model computes: torch (float32 on CPU, float16 on CUDA), bf16 (the model in "
        "bfloat16), auto (bf16 on a CPU with AMX/AVX512-BF16, else torch). A fast backend is used only if it "
        "agrees with float32 within 1e-3 cosine on fixed texts at load; see docs/decisions.md.",
    )
    batch_tokens: int | None = Field(
        None, ge=1, description="Padded tokens per forward pass at most (bounds GPU memory); empty = batch_size x "
        "max_length, i.e. only batch_size limits a batch.",
    )


class HierarchyConfig(_Section):
    n_topics: int | None = Field(
        None, ge=2, description="Number of coarse topics; empty = chosen from the data (see hierarchy/clustering.py)."
    )
    n_subinterests: int | None = Field(
        None, ge=2, description="Number of sub-interests in all; empty = chosen from the data."
    )
    fine_clusters: int | None = Field(
        None, ge=2, description="Fine k-means clusters the tree is agglomerated from; empty = a rule of the item count."
    )
    seed: int = Field(20261124, description="Seed for clustering; the same seed and input give the same tables.")
    label_keywords: int = Field(5, ge=1, description="Keywords in a node's label.")
    lookback_days: int = Field(14, ge=1, description="Days of events_clean a user's vectors are built from.")
    max_topics_per_user: int = Field(5, ge=1, description="Topics kept per user (by weight).")
    max_subinterests_per_user: int = Field(10, ge=1, description="Sub-interests kept per user (by weight).")
    user_text_weight: float = Field(
        0.25, ge=0, description="Weight of one text a user wrote, next to an engagement's event-type weight."
    )
    event_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "impression": 0.1, "click": 1.0, "dwell": 1.5, "like": 2.0, "share": 3.0, "purchase": 4.0
        },
        description="Weight of one engagement by event type; types not listed do not count.",
    )

    @field_validator("event_weights")
    @classmethod
    def _known_event_types(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"unknown event types {unknown}; allowed: {list(EVENT_TYPES)}")
        if any(weight < 0 for weight in value.values()):
            raise ValueError("event weights must be >= 0")
        return value


class BehaviourConfig(_Section):
    """How item vectors learn from engagement, and the grid the nightly time-split validation searches."""

    ranks: list[int] = Field(
        [32, 64], min_length=1, description="ALS ranks tried; the behaviour part is padded to the largest, so the "
        "retrieval dimension (max rank + text dimension) does not change from night to night."
    )
    regularizations: list[float] = Field([0.01, 0.1], min_length=1, description="ALS regParam values tried.")
    text_weights: list[float] = Field(
        [0.0, 0.03, 0.1, 0.3], min_length=1,
        description="Shares of the text part in the retrieval space tried (0 = behaviour only, 1 = text only).",
    )
    half_lives_days: list[float] = Field(
        [3.0, 7.0, 14.0], min_length=1, description="Recency half-lives (days) of an engagement's weight tried."
    )
    alpha: float = Field(10.0, gt=0, description="ALS implicit-feedback confidence scale (confidence = 1 + alpha * r).")
    max_iter: int = Field(10, ge=1, le=100, description="ALS iterations.")
    als_blocks: int = Field(
        1, ge=1, description="ALS user and item blocks. 1: a rerun reproduces the factors bit for bit (Spark's ALS "
        "adds a factor's ratings in the order its blocks arrive from the shuffle, so with several blocks a rerun's "
        "factors can differ in the last bit); more spreads each iteration over that many tasks on a cluster.",
    )
    ridge_regularization: float = Field(
        1.0, gt=0, description="L2 penalty of the text -> behaviour mapping that places items nobody engaged with yet."
    )
    mapping_holdout_share: float = Field(
        0.1, gt=0, lt=1, description="Share of engaged items held back to measure how well the text mapping predicts factors."
    )
    validation_max_users: int = Field(
        2000, ge=10, description="Most users (with held-out engagements) scored by the time-split validation."
    )
    positive_min_weight: float = Field(
        1.0, ge=0, description="Held-out engagements whose event-type weight is at least this are the ones "
        "to retrieve (default: clicks and stronger; an impression shows exposure, not preference)."
    )
    baseline_max_items: int = Field(
        5000, ge=10, description="The EASE baseline covers this many most-engaged items (its Gram matrix is items^2)."
    )
    seed: int = Field(20261124, description="Seed of ALS, the user sample and the mapping's held-back items.")

    @field_validator("ranks")
    @classmethod
    def _positive_ranks(cls, value: list[int]) -> list[int]:
        if any(rank < 1 for rank in value):
            raise ValueError("ranks must be >= 1")
        return sorted(set(value))

    @field_validator("regularizations", "half_lives_days")
    @classmethod
    def _positive(cls, value: list[float]) -> list[float]:
        if any(v <= 0 for v in value):
            raise ValueError("values must be > 0")
        return sorted(set(value))

    @field_validator("text_weights")
    @classmethod
    def _shares(cls, value: list[float]) -> list[float]:
        if any(not 0 <= v <= 1 for v in value):
            raise ValueError("text weights must lie in [0, 1]")
        return sorted(set(value))

    @property
    def dim_behaviour(self) -> int:
        """Width of the behaviour part of the retrieval space (the largest rank tried)."""
        return max(self.ranks)


class QualityConfig(_Section):
    norm_tolerance: float = Field(1e-3, gt=0, description="Allowed |norm - 1| of a stored embedding.")
    min_items: int = Field(1, ge=0, description="Fewest item embeddings a publishable night has.")
    min_users: int = Field(1, ge=0, description="Fewest user embeddings a publishable night has.")
    row_ratio_tables: list[str] = Field(
        default_factory=lambda: ["events_clean", "item_embeddings", "topics", "user_embeddings", "user_topics",
                                 "user_subinterests"],
        description="Tables whose row count tonight is compared with the previous published night's.",
    )
    min_row_ratio: float = Field(0.5, ge=0, description="Fewest rows of a compared table, as a fraction of the previous night's.")
    max_row_ratio: float = Field(2.0, gt=0, description="Most rows of a compared table, as a multiple of the previous night's.")
    min_item_cosine: float = Field(
        0.8, ge=-1, le=1,
        description="Lowest mean cosine between tonight's and the previous night's embedding of the same items "
        "(not checked when the encoder's model_version or the vector width changed).",
    )
    min_user_cosine: float = Field(
        0.5, ge=-1, le=1,
        description="Lowest mean cosine between tonight's and the previous night's embedding of the same users "
        "(not checked when the encoder's model_version or the vector width changed).",
    )
    compared_metrics: list[str] = Field(
        default_factory=lambda: ["build_hierarchy.evaluation.user.recall_at_10",
                                 "build_hierarchy.evaluation.subinterest.recall_at_10"],
        description="Evaluation figures (pipeline_runs.metrics keys) tonight's must keep relative to the previous night's.",
    )
    min_metric_fraction: float = Field(
        0.8, ge=0, description="Lowest value of a compared figure, as a fraction of the previous published night's."
    )
    evaluation_users_metric: str = Field(
        "build_hierarchy.evaluation.users.report",
        description="The pipeline_runs.metrics key holding how many users a night's compared figures are means over.",
    )
    metric_noise_sigmas: float = Field(
        3.0, ge=0,
        description="A compared figure below min_metric_fraction fails only when its drop is also more than this "
        "many standard errors of the difference of the two nights' means (0: the fraction alone decides).",
    )


class MaintenanceConfig(_Section):
    """Lake maintenance (jobs/maintain_lake.py): compaction, vacuum and log cleanup; docs/operations.md."""

    keep_nights: int = Field(
        7, ge=1, description="Time travel to the last this many published nights (by ds) always works: vacuum "
        "keeps every file the table versions they name read.",
    )
    retention_margin_hours: int = Field(
        24, ge=1, description="Added to the age of the oldest version the kept nights name (clock skew, readers "
        "still on an older version, writes in flight).",
    )
    default_retention_hours: int = Field(
        168, ge=1, description="Vacuum retention of a table no published night names (text_embeddings, stage_runs, "
        "pipeline_runs) or of every table while no night is published.",
    )
    log_retention_hours: int = Field(
        720, ge=1, description="Delta log kept (each table's delta.logRetentionDuration is set to it), or the "
        "table's vacuum retention when that is longer, so the kept nights' versions stay loadable.",
    )
    compact_days: int = Field(
        7, ge=1, description="ds partitions of the this many days up to the run's ds are compacted (what the nights "
        "since the last runs wrote); tables not partitioned by ds are compacted whole.",
    )
    quarantine_days: int | None = Field(
        30, ge=1, description="events_rejected (the quarantine: rejected lines as they landed, raw user ids "
        "included) keeps the partitions of this many days up to the run's ds; older ones are deleted, and vacuum "
        "removes their files once no kept night reads them. Empty = keep them forever.",
    )
    dry_run: bool = Field(
        False, description="Change nothing: count what vacuum would delete (INTERESTS_MAINTENANCE__DRY_RUN=true)."
    )


class PipelineConfig(_Section):
    env: Literal["local", "cluster"] = Field("local", description="local: embedded default; cluster: the real thing.")
    paths: PathsConfig = PathsConfig()
    spark: SparkConfig = SparkConfig()
    lake: LakeConfig = LakeConfig()
    cleaning: CleaningConfig = CleaningConfig()
    encoder: EncoderConfig = EncoderConfig()
    hierarchy: HierarchyConfig = HierarchyConfig()
    behaviour: BehaviourConfig = BehaviourConfig()
    quality: QualityConfig = QualityConfig()
    maintenance: MaintenanceConfig = MaintenanceConfig()

    @property
    def mlflow_uri(self) -> str:
        """The MLflow URI to use: env MLFLOW_TRACKING_URI, the configured one, or sqlite in the lake."""
        if os.environ.get("MLFLOW_TRACKING_URI"):
            return os.environ["MLFLOW_TRACKING_URI"]
        if self.paths.mlflow_tracking_uri:
            return self.paths.mlflow_tracking_uri
        return f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"

    @property
    def mlflow_dir(self) -> Path:
        """Folder of the embedded MLflow store (database and artifacts); only for a local lake."""
        if not isinstance(self.paths.lake_root, Path):
            raise ConfigError(
                f"the lake is at {self.paths.lake_root}: set MLFLOW_TRACKING_URI (or paths.mlflow_tracking_uri), "
                "the embedded sqlite MLflow store needs a local lake"
            )
        return self.paths.lake_root / "_mlflow"


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _leaf_keys(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    keys: list[tuple[str, ...]] = []
    for key, value in tree.items():
        keys.extend(_leaf_keys(value, (*prefix, key)) if isinstance(value, dict) and value else [(*prefix, key)])
    return keys


def _read_yaml_dir(folder: Path, sources: dict[tuple[str, ...], str]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in sorted(folder.glob("*.yml")) + sorted(folder.glob("*.yaml")):
        try:
            content = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML: {error}") from error
        if not isinstance(content, dict):
            raise ConfigError(f"{path}: must hold a mapping at the top level, got {type(content).__name__}")
        merged = _deep_merge(merged, content)
        sources.update({key: str(path) for key in _leaf_keys(content)})
    return merged


def _env_overrides(environ: dict[str, str], sources: dict[tuple[str, ...], str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX):].lower().split("__")
        if parts == ["env"]:
            overrides["env"] = value
            sources[("env",)] = name
            continue
        if len(parts) < 2 or parts[0] not in PipelineConfig.model_fields:
            continue
        node = overrides
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        # YAML parsing gives ints, floats, bools and mappings from strings the natural way.
        node[parts[-1]] = yaml.safe_load(value) if value != "" else ""
        sources[tuple(parts)] = name
    return overrides


def _describe(error: ValidationError, sources: dict[tuple[str, ...], str]) -> str:
    """One line per invalid field, naming the file or variable that set it."""
    lines = []
    for problem in error.errors():
        location = tuple(str(part) for part in problem["loc"])
        origin = next(
            (sources[location[:n]] for n in range(len(location), 0, -1) if location[:n] in sources), "the defaults"
        )
        lines.append(f"  {'.'.join(location)}: {problem['msg']} (input {problem.get('input')!r}, from {origin})")
    return "\n".join(lines)


def _resolve(path: Path | str, root: Path) -> Path | str:
    if not isinstance(path, Path):
        return path
    path = path.expanduser()
    return path if path.is_absolute() else (root / path).resolve()


def load_config(
    conf_dir: Path | None = None,
    environ: dict[str, str] | None = None,
    root: Path | None = None,
    run_options: dict[str, int | None] | None = None,
) -> PipelineConfig:
    """Load and validate the config: base, then local, then env, then this run's options (``RUN_OPTIONS``;
    None = not set); relative paths resolved against root."""
    root = root or PROJECT_ROOT
    conf_dir = conf_dir or root / "conf"
    environ = dict(os.environ) if environ is None else environ
    sources: dict[tuple[str, ...], str] = {}
    raw = _deep_merge(_read_yaml_dir(conf_dir / "base", sources), _read_yaml_dir(conf_dir / "local", sources))
    raw = _deep_merge(raw, _env_overrides(environ, sources))
    for name, value in (run_options or {}).items():
        if name not in RUN_OPTIONS:
            raise ConfigError(f"{name!r} is not a per-run option; those are: {', '.join(RUN_OPTIONS)}")
        if value is not None:
            section, field = RUN_OPTIONS[name]
            raw = _deep_merge(raw, {section: {field: value}})
            sources[(section, field)] = f"this run's {option_flag(name)}"
    try:
        config = PipelineConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(f"invalid configuration:\n{_describe(error, sources)}") from error
    paths = config.paths.model_copy(
        update={
            "landing_root": _resolve(config.paths.landing_root, root),
            "lake_root": _resolve(config.paths.lake_root, root),
        }
    )
    spark = config.spark.model_copy(update={"jars_dir": _resolve(config.spark.jars_dir, root)})
    return config.model_copy(update={"paths": paths, "spark": spark})
