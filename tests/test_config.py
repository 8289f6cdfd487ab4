"""load_config: committed defaults, conf/local and env overrides, validation, path resolution."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from interests.config import PROJECT_ROOT, ConfigError, PipelineConfig, load_config

BASE_YML = PROJECT_ROOT / "conf" / "base" / "pipeline.yml"


@pytest.fixture
def conf_dir(tmp_path) -> Path:
    """A copy of the committed conf/base (and no conf/local) in a tmp folder."""
    folder = tmp_path / "conf"
    shutil.copytree(PROJECT_ROOT / "conf" / "base", folder / "base")
    return folder


def write_local(conf_dir: Path, content: dict | str, name: str = "override.yml") -> Path:
    local = conf_dir / "local"
    local.mkdir(exist_ok=True)
    path = local / name
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    return path


def load(conf_dir: Path, environ: dict[str, str] | None = None, root: Path | None = None) -> PipelineConfig:
    return load_config(conf_dir=conf_dir, environ=environ or {}, root=root or conf_dir.parent)


# ---------------------------------------------------------------- defaults


def test_defaults_are_the_values_of_conf_base(conf_dir):
    committed = yaml.safe_load(BASE_YML.read_text())
    config = load(conf_dir)

    assert config.env == committed["env"]
    for section, fields in committed.items():
        if section in ("env", "paths"):
            continue
        for name, value in fields.items():
            if (section, name) == ("spark", "jars_dir"):
                continue
            assert getattr(getattr(config, section), name) == value, f"{section}.{name}"
    assert config.spark.jars_dir == (conf_dir.parent / committed["spark"]["jars_dir"]).resolve()
    assert config.paths.landing_root == (conf_dir.parent / committed["paths"]["landing_root"]).resolve()
    assert config.paths.lake_root == (conf_dir.parent / committed["paths"]["lake_root"]).resolve()
    assert config.paths.mlflow_tracking_uri == committed["paths"]["mlflow_tracking_uri"]


def test_conf_base_sets_every_field_to_the_model_default(conf_dir):
    """The committed yml and the pydantic defaults agree, so a missing key changes nothing."""
    loaded = load(conf_dir)
    from_yml = loaded.model_dump(exclude={"paths": True, "spark": {"jars_dir"}})
    from_model = PipelineConfig().model_dump(exclude={"paths": True, "spark": {"jars_dir"}})
    assert from_yml == from_model
    assert loaded.spark.jars_dir == (conf_dir.parent / PipelineConfig().spark.jars_dir).resolve()


def test_interests_home_is_the_root_a_submitted_job_resolves_against(tmp_path):
    """Under spark-submit the package comes from a zip; INTERESTS_HOME names the checkout instead."""
    import subprocess
    import sys

    code = "from interests.config import PROJECT_ROOT; print(PROJECT_ROOT)"
    env = {**__import__("os").environ, "INTERESTS_HOME": str(tmp_path)}
    printed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert printed.stdout.strip() == str(tmp_path)


# ---------------------------------------------------------------- overrides


@pytest.mark.parametrize(
    ("variable", "value", "read", "expected"),
    [
        ("INTERESTS_PATHS__LAKE_ROOT", "/mnt/lake", lambda c: c.paths.lake_root, Path("/mnt/lake")),
        ("INTERESTS_PATHS__LANDING_ROOT", "/mnt/landing", lambda c: c.paths.landing_root, Path("/mnt/landing")),
        ("INTERESTS_SPARK__SHUFFLE_PARTITIONS", "3", lambda c: c.spark.shuffle_partitions, 3),
        ("INTERESTS_SPARK__MASTER", "local[2]", lambda c: c.spark.master, "local[2]"),
        ("INTERESTS_BEHAVIOUR__HALF_LIVES_DAYS", "[2.5]", lambda c: c.behaviour.half_lives_days, [2.5]),
        ("INTERESTS_BEHAVIOUR__RANKS", "[64, 16, 64]", lambda c: c.behaviour.ranks, [16, 64]),
        ("INTERESTS_HIERARCHY__N_SUBINTERESTS", "12", lambda c: c.hierarchy.n_subinterests, 12),
        ("INTERESTS_CLEANING__MAX_LATENESS_DAYS", "0", lambda c: c.cleaning.max_lateness_days, 0),
        ("INTERESTS_LAKE__ENGINE", "delta-spark", lambda c: c.lake.engine, "delta-spark"),
        ("INTERESTS_ENV", "cluster", lambda c: c.env, "cluster"),
        ("INTERESTS_HIERARCHY__EVENT_WEIGHTS__CLICK", "2.5", lambda c: c.hierarchy.event_weights["click"], 2.5),
        (
            "INTERESTS_HIERARCHY__EVENT_WEIGHTS",
            "{click: 2, like: 0}",
            lambda c: (c.hierarchy.event_weights["click"], c.hierarchy.event_weights["like"]),
            (2.0, 0.0),
        ),
    ],
)
def test_environment_variable_overrides_one_field(conf_dir, variable, value, read, expected):
    default = read(load(conf_dir))
    overridden = read(load(conf_dir, {variable: value}))
    assert overridden == expected
    assert overridden != default
    assert type(overridden) is type(expected)


def test_nested_event_weight_override_keeps_the_other_weights(conf_dir):
    weights = load(conf_dir, {"INTERESTS_HIERARCHY__EVENT_WEIGHTS__SHARE": "5"}).hierarchy.event_weights
    assert weights == {**PipelineConfig().hierarchy.event_weights, "share": 5.0}


def test_environment_beats_local_beats_base(conf_dir):
    write_local(conf_dir, {"hierarchy": {"n_topics": 5}, "spark": {"master": "local[3]"}})

    local_only = load(conf_dir)
    assert (local_only.hierarchy.n_topics, local_only.spark.master) == (5, "local[3]")
    assert local_only.hierarchy.seed == PipelineConfig().hierarchy.seed  # untouched keys merge, not replace

    with_env = load(conf_dir, {"INTERESTS_HIERARCHY__N_TOPICS": "6"})
    assert (with_env.hierarchy.n_topics, with_env.spark.master) == (6, "local[3]")


def test_unrelated_environment_variables_are_ignored(conf_dir):
    config = load(conf_dir, {"INTERESTS": "x", "INTERESTS_FOO": "1", "OTHER_PATHS__LAKE_ROOT": "/x"})
    assert config == load(conf_dir)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ({"paths": {"bogus": 1}}, "paths.bogus"),
        ({"hierarchy": {"n_topic": 3}}, "hierarchy.n_topic"),
        ({"bogus_section": {"a": 1}}, "bogus_section"),
    ],
)
def test_unknown_key_in_a_yml_is_rejected_naming_the_field(conf_dir, content, field):
    write_local(conf_dir, content)
    with pytest.raises(ConfigError, match="Extra inputs are not permitted") as error:
        load(conf_dir)
    assert field in str(error.value)


def test_unknown_field_in_an_environment_variable_is_rejected(conf_dir):
    with pytest.raises(ConfigError) as error:
        load(conf_dir, {"INTERESTS_SPARK__CORES": "4"})
    assert "spark.cores" in str(error.value)


@pytest.mark.parametrize(
    ("content", "field", "message"),
    [
        ({"hierarchy": {"n_topics": 1}}, "hierarchy.n_topics", "greater than or equal to 2"),
        ({"lake": {"engine": "parquet"}}, "lake.engine", "delta-rs"),
        ({"hierarchy": {"event_weights": {"click": 1.0, "view": 2.0}}}, "hierarchy.event_weights", "view"),
        ({"hierarchy": {"event_weights": {"click": -1.0}}}, "hierarchy.event_weights", ">= 0"),
        ({"behaviour": {"half_lives_days": [7, 0]}}, "behaviour.half_lives_days", "> 0"),
        ({"behaviour": {"text_weights": [0.5, 1.5]}}, "behaviour.text_weights", "[0, 1]"),
        ({"behaviour": {"ranks": []}}, "behaviour.ranks", "at least 1"),
        ({"hierarchy": {"user_text_weight": -0.5}}, "hierarchy.user_text_weight", "greater than or equal to 0"),
        ({"spark": {"shuffle_partitions": 0}}, "spark.shuffle_partitions", "greater than or equal to 1"),
        ({"cleaning": {"max_events_per_minute": "many"}}, "cleaning.max_events_per_minute", "integer"),
        ({"encoder": {"batch_size": 5000}}, "encoder.batch_size", "less than or equal to 4096"),
        ({"env": "staging"}, "env", "local"),
    ],
)
def test_bad_value_raises_config_error_naming_the_field(conf_dir, content, field, message):
    write_local(conf_dir, content)
    with pytest.raises(ConfigError) as error:
        load(conf_dir)
    assert field in str(error.value)
    assert message in str(error.value)


def test_bad_value_from_the_environment_raises_config_error(conf_dir):
    with pytest.raises(ConfigError, match="hierarchy.n_topics"):
        load(conf_dir, {"INTERESTS_HIERARCHY__N_TOPICS": "1"})


@pytest.mark.parametrize("source", ["file", "variable"])
def test_bad_value_error_names_the_file_or_variable(conf_dir, source):
    environ = {}
    if source == "file":
        write_local(conf_dir, {"hierarchy": {"n_topics": 1}}, name="night.yml")
        expected = "night.yml"
    else:
        environ = {"INTERESTS_HIERARCHY__N_TOPICS": "1"}
        expected = "INTERESTS_HIERARCHY__N_TOPICS"
    with pytest.raises(ConfigError) as error:
        load(conf_dir, environ)
    assert expected in str(error.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [("paths: [unclosed", "not valid YAML"), ("- a\n- b\n", "must hold a mapping")],
)
def test_unreadable_yml_raises_config_error_naming_the_file(conf_dir, text, message):
    path = write_local(conf_dir, text, name="broken.yml")
    with pytest.raises(ConfigError, match=message) as error:
        load(conf_dir)
    assert str(path) in str(error.value)


# ---------------------------------------------------------------- paths and MLflow


def test_relative_paths_are_resolved_against_root(conf_dir, tmp_path):
    root = tmp_path / "checkout"
    write_local(conf_dir, {"paths": {"landing_root": "in/landing", "lake_root": "../elsewhere/lake"}})
    config = load(conf_dir, root=root)
    assert config.paths.landing_root == root / "in" / "landing"
    assert config.paths.lake_root == tmp_path / "elsewhere" / "lake"
    assert config.paths.landing_root.is_absolute() and config.paths.lake_root.is_absolute()


def test_absolute_and_home_paths_are_kept(conf_dir, tmp_path):
    config = load(
        conf_dir,
        {"INTERESTS_PATHS__LAKE_ROOT": str(tmp_path / "abs"), "INTERESTS_PATHS__LANDING_ROOT": "~/landing"},
        root=tmp_path / "checkout",
    )
    assert config.paths.lake_root == tmp_path / "abs"
    assert config.paths.landing_root == Path.home() / "landing"


def test_uri_roots_are_kept_as_uris(conf_dir):
    config = load(conf_dir, {"INTERESTS_PATHS__LANDING_ROOT": "s3://bucket/landing",
                             "INTERESTS_PATHS__LAKE_ROOT": "s3a://bucket/lake"})
    assert (str(config.paths.landing_root), str(config.paths.lake_root)) == ("s3://bucket/landing", "s3a://bucket/lake")


@pytest.mark.parametrize(
    ("environment_uri", "configured_uri", "expected"),
    [
        ("http://tracking:5000", "http://configured:5000", "http://tracking:5000"),
        (None, "http://configured:5000", "http://configured:5000"),
        ("", "http://configured:5000", "http://configured:5000"),
        (None, "", "sqlite:///{lake}/_mlflow/mlflow.db"),
    ],
)
def test_mlflow_uri_precedence(conf_dir, tmp_path, monkeypatch, environment_uri, configured_uri, expected):
    if environment_uri is None:
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", environment_uri)
    lake = tmp_path / "lake"
    config = load(
        conf_dir,
        {"INTERESTS_PATHS__LAKE_ROOT": str(lake), "INTERESTS_PATHS__MLFLOW_TRACKING_URI": configured_uri},
    )
    assert config.mlflow_uri == expected.format(lake=lake)
    assert config.mlflow_dir == lake / "_mlflow"


def test_the_conftest_config_fixture_points_into_tmp(config, tmp_path):
    assert config.paths.lake_root == tmp_path / "lake"
    assert config.paths.landing_root == tmp_path / "landing"


def test_config_is_frozen(conf_dir):
    config = load(conf_dir)
    with pytest.raises(Exception, match="frozen"):
        config.hierarchy.n_topics = 3  # type: ignore[misc]


# ---------------------------------------------------------------- per-run options (bootstrap)


def test_run_options_beat_every_other_source(conf_dir):
    write_local(conf_dir, {"cleaning": {"max_lateness_days": 5}})
    config = load_config(
        conf_dir=conf_dir, environ={"INTERESTS_HIERARCHY__LOOKBACK_DAYS": "20"}, root=conf_dir.parent,
        run_options={"max_lateness_days": 120, "lookback_days": 90},
    )
    assert (config.cleaning.max_lateness_days, config.hierarchy.lookback_days) == (120, 90)
    assert config.cleaning.dedupe_days == 121  # the dedupe window follows the run's lateness bound
    unset = load_config(conf_dir=conf_dir, environ={}, root=conf_dir.parent, run_options={"lookback_days": None})
    assert (unset.cleaning.max_lateness_days, unset.hierarchy.lookback_days) == (5, PipelineConfig().hierarchy.lookback_days)


def test_a_bad_run_option_names_the_option(conf_dir):
    with pytest.raises(ConfigError, match="hierarchy.lookback_days.*this run's --lookback-days"):
        load_config(conf_dir=conf_dir, environ={}, root=conf_dir.parent, run_options={"lookback_days": 0})
    with pytest.raises(ConfigError, match="'n_topics' is not a per-run option"):
        load_config(conf_dir=conf_dir, environ={}, root=conf_dir.parent, run_options={"n_topics": 3})


def test_an_explicit_dedupe_window_wins(conf_dir):
    assert load(conf_dir, {"INTERESTS_CLEANING__DEDUPE_WINDOW_DAYS": "0"}).cleaning.dedupe_days == 0
    assert load(conf_dir).cleaning.dedupe_days == PipelineConfig().cleaning.max_lateness_days + 1
