"""The Delta lake (delta-rs engine): partition replacement, schema checks, appends and reads."""

from __future__ import annotations

from functools import reduce

import pyarrow as pa
import pytest
from pyspark.sql import functions as F

from interests.catalog import EVENTS_REJECTED, TEXT_EMBEDDINGS, TOPICS, InvalidDsError
from interests.lake import Lake, SchemaMismatchError, conform, spark_schema_of

DAY_1, DAY_2, DAY_3 = "2026-11-18", "2026-11-19", "2026-11-20"
SPEC = EVENTS_REJECTED  # key (ds, source, source_file, raw_line): all strings, small and readable


def rejected(ds: str, rows: list[tuple[str, str]], source: str = "events") -> pa.Table:
    """events_rejected rows of one ds: (reason, raw_line) pairs from one file."""
    return pa.table(
        {
            "ds": [ds] * len(rows),
            "source": [source] * len(rows),
            "reason": [reason for reason, _ in rows],
            "raw_line": [line for _, line in rows],
            "source_file": ["f.jsonl"] * len(rows),
        },
        schema=SPEC.schema,
    )


def content(lake: Lake, ds: str | None = None) -> list[dict]:
    return lake.read(SPEC, ds=ds).to_pylist()


@pytest.fixture
def lake(config) -> Lake:
    return Lake(config.paths.lake_root)


def test_write_partition_replaces_exactly_one_ds(lake):
    assert lake.version(SPEC) is None and not lake.exists(SPEC)
    assert lake.write_partition(SPEC, DAY_1, rejected(DAY_1, [("a", "1"), ("a", "2")])) == 1
    assert lake.write_partition(SPEC, DAY_2, rejected(DAY_2, [("b", "3")])) == 2
    day_2_before = content(lake, DAY_2)

    assert lake.write_partition(SPEC, DAY_1, rejected(DAY_1, [("c", "9")])) == 3

    assert [(row["reason"], row["raw_line"]) for row in content(lake, DAY_1)] == [("c", "9")]
    assert content(lake, DAY_2) == day_2_before
    assert lake.partitions(SPEC) == [DAY_1, DAY_2]
    assert lake.version(SPEC) == 3 and lake.exists(SPEC)


def test_a_write_returns_its_own_version_when_another_writer_commits_right_after(lake, monkeypatch):
    import deltalake

    lake.write_partition(SPEC, DAY_1, rejected(DAY_1, [("a", "1")]))  # version 1
    real_write = deltalake.write_deltalake
    other = Lake(lake.root)

    def write_then_another_commits(*args, **kwargs):
        real_write(*args, **kwargs)  # this writer's commit: version 2
        monkeypatch.setattr(deltalake, "write_deltalake", real_write)
        assert other.write_partition(SPEC, DAY_3, rejected(DAY_3, [("z", "0")])) == 3  # before the first looks

    monkeypatch.setattr(deltalake, "write_deltalake", write_then_another_commits)
    assert lake.write_partition(SPEC, DAY_2, rejected(DAY_2, [("b", "2")])) == 2
    assert lake.version(SPEC) == 3


def test_logged_rows_count_a_partition_at_a_version_from_the_delta_log(lake):
    assert lake.logged_rows(SPEC) is None  # no table yet
    lake.write_partition(SPEC, DAY_1, rejected(DAY_1, [("a", "1"), ("a", "2")]))
    lake.write_partition(SPEC, DAY_2, rejected(DAY_2, [("b", "3")]))
    lake.write_partition(SPEC, DAY_1, rejected(DAY_1, [("c", "9"), ("c", "8"), ("c", "7")]))
    assert [lake.logged_rows(SPEC, ds=DAY_1), lake.logged_rows(SPEC, ds=DAY_2), lake.logged_rows(SPEC)] == [3, 1, 4]
    assert lake.logged_rows(SPEC, ds=DAY_1, version=2) == 2 and lake.logged_rows(SPEC, ds=DAY_2, version=1) == 0
    assert lake.logged_rows(SPEC, ds=DAY_3) == 0


def test_rows_are_written_sorted_by_key_and_a_rerun_gives_the_same_content(lake):
    both = pa.concat_tables(
        [rejected(DAY_1, [("x", "3"), ("x", "1"), ("x", "2")], "items"), rejected(DAY_1, [("x", "9")], "events")]
    )
    lake.write_partition(SPEC, DAY_1, both)
    first = content(lake)
    assert [(row["source"], row["raw_line"]) for row in first] == [
        ("events", "9"), ("items", "1"), ("items", "2"), ("items", "3")
    ]

    # A rerun of the day with the rows in another order writes the same content, row order included.
    lake.write_partition(SPEC, DAY_1, both.take([2, 3, 0, 1]))
    assert content(lake) == first
    assert lake.version(SPEC) == 2


def _wrong_ds(table: pa.Table) -> pa.Table:
    return table.set_column(0, "ds", pa.array([DAY_1, DAY_2], pa.string()))


def _missing_column(table: pa.Table) -> pa.Table:
    return table.drop_columns(["reason"])


def _null_in_non_null_column(table: pa.Table) -> pa.Table:
    return table.set_column(2, "reason", pa.array(["a", None], pa.string()))


def _uncastable(table: pa.Table) -> pa.Table:
    return table.set_column(3, "raw_line", pa.array([[1], [2]], pa.list_(pa.int64())))


@pytest.mark.parametrize(
    ("break_table", "message"),
    [
        (_wrong_ds, "ds other than"),
        (_missing_column, "missing columns \\['reason'\\]"),
        (_null_in_non_null_column, "events_rejected.reason: 1 nulls"),
        (_uncastable, "events_rejected.raw_line: cannot cast"),
    ],
)
def test_a_bad_write_raises_and_leaves_the_table_unchanged(lake, break_table, message):
    lake.write_partition(SPEC, DAY_1, rejected(DAY_1, [("old", "1")]))
    version, before = lake.version(SPEC), content(lake)

    with pytest.raises(SchemaMismatchError, match=message):
        lake.write_partition(SPEC, DAY_1, break_table(rejected(DAY_1, [("new", "1"), ("new", "2")])))

    assert lake.version(SPEC) == version
    assert content(lake) == before


def test_a_bad_first_write_does_not_create_the_table(lake):
    with pytest.raises(SchemaMismatchError):
        lake.write_partition(SPEC, DAY_1, _wrong_ds(rejected(DAY_1, [("a", "1"), ("a", "2")])))
    assert not lake.exists(SPEC)


def test_conform_selects_and_casts_to_the_catalog_schema():
    data = pa.table({"extra": [1], "raw_line": pa.array(["l"], pa.large_string()), "source_file": ["f"],
                     "reason": ["r"], "source": ["events"], "ds": [DAY_1]})
    conformed = conform(SPEC, data)
    assert conformed.schema == SPEC.schema
    assert conformed.to_pylist() == [
        {"ds": DAY_1, "source": "events", "reason": "r", "raw_line": "l", "source_file": "f"}
    ]


def test_where_replaces_only_the_matching_rows(lake):
    lake.write_partition(
        SPEC, DAY_1,
        pa.concat_tables(
            [rejected(DAY_1, [("e", "1"), ("e", "2")], "events"), rejected(DAY_1, [("i", "old")], "items")]
        ),
    )
    lake.write_partition(SPEC, DAY_2, rejected(DAY_2, [("i", "other day")], source="items"))

    lake.write_partition(SPEC, DAY_1, rejected(DAY_1, [("i", "new")], source="items"), where={"source": "items"})

    rows = {(row["ds"], row["source"], row["raw_line"]) for row in content(lake)}
    assert rows == {
        (DAY_1, "events", "1"), (DAY_1, "events", "2"), (DAY_1, "items", "new"), (DAY_2, "items", "other day")
    }


def test_where_rejects_rows_outside_it(lake):
    with pytest.raises(SchemaMismatchError, match="source other than 'items'"):
        lake.write_partition(SPEC, DAY_1, rejected(DAY_1, [("e", "1")], source="events"), where={"source": "items"})


@pytest.mark.parametrize(
    ("ds", "where", "error"),
    [
        ("2026-11-31", None, InvalidDsError),
        (DAY_1, {"nope": "x"}, ValueError),
        (DAY_1, {"source": "it's"}, ValueError),
    ],
)
def test_write_partition_refuses_bad_bounds(lake, ds, where, error):
    with pytest.raises(error):
        lake.write_partition(SPEC, ds, rejected(DAY_1, [("a", "1")]), where=where)
    assert not lake.exists(SPEC)


def test_write_partition_refuses_a_table_not_partitioned_by_ds(lake):
    with pytest.raises(ValueError, match="model_version"):
        lake.write_partition(TEXT_EMBEDDINGS, DAY_1, cache_rows(["h"]))


def test_an_empty_write_empties_the_partition(lake):
    lake.write_partition(SPEC, DAY_1, rejected(DAY_1, [("a", "1")]))
    lake.write_partition(SPEC, DAY_2, rejected(DAY_2, [("b", "2")]))
    lake.write_partition(SPEC, DAY_1, rejected(DAY_1, []))
    assert content(lake, DAY_1) == []
    assert lake.partitions(SPEC) == [DAY_2]


def cache_rows(hashes: list[str], model_version: str = "m1") -> pa.Table:
    return pa.table(
        {
            "model_version": [model_version] * len(hashes),
            "text_hash": hashes,
            "embedding": pa.array([[1.0, 0.0]] * len(hashes), pa.list_(pa.float32())),
            "first_ds": [DAY_1] * len(hashes),
        },
        schema=TEXT_EMBEDDINGS.schema,
    )


def test_append_adds_rows_and_an_empty_append_is_a_no_op(lake):
    assert lake.append(TEXT_EMBEDDINGS, cache_rows(["b", "a"])) == 1
    assert lake.append(TEXT_EMBEDDINGS, cache_rows(["c"], model_version="m2")) == 2
    assert lake.append(TEXT_EMBEDDINGS, cache_rows([])) == 2

    table = lake.read(TEXT_EMBEDDINGS)
    assert table.schema == TEXT_EMBEDDINGS.schema
    assert sorted(zip(table["model_version"].to_pylist(), table["text_hash"].to_pylist())) == [
        ("m1", "a"), ("m1", "b"), ("m2", "c")
    ]
    only_m2 = lake.read(TEXT_EMBEDDINGS, columns=["text_hash"], filters=[("model_version", "=", "m2")])
    assert only_m2.to_pylist() == [{"text_hash": "c"}]


def test_reading_a_missing_table_gives_an_empty_table_with_the_schema(lake):
    assert lake.read(TOPICS).schema == TOPICS.schema
    assert lake.read(TOPICS).num_rows == 0
    assert lake.read(TOPICS, columns=["node_id", "size"]).schema == pa.schema(
        [TOPICS.schema.field("node_id"), TOPICS.schema.field("size")]
    )
    assert lake.partitions(TOPICS) == []
    assert lake.version(TOPICS) is None


def test_read_one_ds_and_the_schema_round_trips(lake):
    lake.write_partition(SPEC, DAY_1, rejected(DAY_1, [("a", "1")]))
    lake.write_partition(SPEC, DAY_2, rejected(DAY_2, [("b", "2")]))
    assert lake.read(SPEC).schema == SPEC.schema
    assert [row["ds"] for row in content(lake, DAY_2)] == [DAY_2]
    assert content(lake, DAY_3) == []


def test_delta_spark_engine_needs_a_session(tmp_path):
    with pytest.raises(ValueError, match="SparkSession"):
        Lake(tmp_path, engine="delta-spark")


def types_of(schema) -> list[tuple[str, str]]:
    """Column names and Spark types (Parquet reads make every column nullable)."""
    return [(field.name, field.dataType.simpleString()) for field in schema.fields]


def test_read_spark_by_ds_and_range_and_of_an_empty_table(spark, config):
    lake = Lake(config.paths.lake_root, spark=spark)
    for ds, raw_line in ((DAY_1, "1"), (DAY_2, "2"), (DAY_3, "3")):
        lake.write_partition(SPEC, ds, rejected(ds, [("r", raw_line)]))

    frame = lake.read_spark(SPEC, ds_from=DAY_2)
    nothing = lake.read_spark(SPEC, ds="2026-01-01")
    missing_table = lake.read_spark(TOPICS, ds=DAY_1)
    assert frame.columns == SPEC.schema.names
    assert types_of(frame.schema) == types_of(spark_schema_of(SPEC))
    assert types_of(nothing.schema) == types_of(spark_schema_of(SPEC))
    assert types_of(missing_table.schema) == types_of(spark_schema_of(TOPICS))

    # One Spark job answers the rest: which (ds, raw_line) each read returns.
    probes = {
        "all": lake.read_spark(SPEC),
        "one_ds": lake.read_spark(SPEC, ds=DAY_2),
        "from": frame,
        "to": lake.read_spark(SPEC, ds_to=DAY_1),
        "range": lake.read_spark(SPEC, ds_from=DAY_1, ds_to=DAY_2),
        "no_such_ds": nothing,
    }
    union = reduce(
        lambda left, right: left.unionByName(right),
        [probe.select(F.lit(name).alias("probe"), "ds", "raw_line") for name, probe in probes.items()]
        + [missing_table.select(F.lit("missing_table").alias("probe"), "ds", F.col("label").alias("raw_line"))],
    )
    found: dict[str, set[tuple[str, str]]] = {name: set() for name in [*probes, "missing_table"]}
    for row in union.collect():
        found[row["probe"]].add((row["ds"], row["raw_line"]))
    one, two, three = (DAY_1, "1"), (DAY_2, "2"), (DAY_3, "3")
    assert found == {
        "all": {one, two, three},
        "one_ds": {two},
        "from": {two, three},
        "to": {one},
        "range": {one, two},
        "no_such_ds": set(),
        "missing_table": set(),
    }


def test_a_dataframe_is_written_by_the_executors_and_committed_as_one_partition(spark, config):
    from pathlib import Path

    from interests.catalog import EVENTS_CLEAN

    lake = Lake(config.paths.lake_root, spark=spark)
    lake.write_partition(SPEC, DAY_2, rejected(DAY_2, [("kept", "other day")]))
    frame = spark.createDataFrame(rejected(DAY_1, [("r", str(n)) for n in range(50)])).repartition(3)
    version = lake.write_partition(SPEC, DAY_1, frame)
    again = lake.write_partition(SPEC, DAY_1, frame)  # a rerun replaces the partition's files

    assert again == version + 1
    rows = content(lake, DAY_1)
    assert sorted(int(row["raw_line"]) for row in rows) == list(range(50))
    assert [row["reason"] for row in content(lake, DAY_2)] == ["kept"]
    from deltalake import DeltaTable

    files = DeltaTable(str(lake.path(SPEC))).file_uris()
    day_1_files = [uri for uri in files if f"ds={DAY_1}" in uri]
    assert len(day_1_files) == 3 and all("/write-" in uri and uri.endswith(".parquet") for uri in day_1_files)
    assert not any(name.name.startswith(("_SUCCESS", ".")) for name in Path(lake.path(SPEC)).rglob("write-*/*"))
    # Timestamps, maps and nullable columns read back as the catalog declares them.
    events = spark.createDataFrame(
        [(DAY_1, "e1", "u1", "i1", "click", "2026-11-18 10:00:00", None, None, {"a": "b"}, "f")],
        "ds string, event_id string, user_id string, item_id string, event_type string, event_ts string, "
        "dwell_ms bigint, query string, extra map<string,string>, source_file string",
    ).withColumn("event_ts", F.to_timestamp("event_ts"))
    lake.write_partition(EVENTS_CLEAN, DAY_1, events)
    back = lake.read(EVENTS_CLEAN, ds=DAY_1)
    assert back.schema.field("event_ts").type == EVENTS_CLEAN.schema.field("event_ts").type
    assert back.to_pylist()[0]["extra"] == [("a", "b")]


def test_a_dataframe_row_of_another_ds_fails_the_write_and_leaves_the_partition(spark, config):
    from pathlib import Path

    lake = Lake(config.paths.lake_root, spark=spark)
    lake.write_partition(SPEC, DAY_1, rejected(DAY_1, [("before", "1")]))
    version = lake.version(SPEC)
    mixed = spark.createDataFrame(pa.concat_tables([rejected(DAY_1, [("x", "2")]), rejected(DAY_2, [("y", "3")])]))

    with pytest.raises(Exception, match="a row has a ds other than"):
        lake.write_partition(SPEC, DAY_1, mixed)

    assert lake.version(SPEC) == version
    assert [row["reason"] for row in content(lake, DAY_1)] == ["before"]
    assert not list(Path(lake.path(SPEC)).rglob("write-*"))  # the failed write's files are gone


def test_a_commit_is_found_by_its_tag_in_the_log_of_a_storage_uri(tmp_path):
    """A URI lake (here file://) reads the commit files through pyarrow's filesystem for the URI."""
    from deltalake import write_deltalake

    from interests.lake import _TaggedCommit

    uri = (tmp_path / "table").as_uri()
    rows = pa.table({"x": [1]})
    write_deltalake(uri, rows)  # version 0
    mine = _TaggedCommit(uri)
    write_deltalake(uri, rows, mode="append", commit_properties=mine.properties)  # version 1
    write_deltalake(uri, rows, mode="append")  # another writer, before this one looks: version 2
    assert mine.version() == 1
    with pytest.raises(LookupError, match="not in the log after version 2"):
        _TaggedCommit(uri).version()  # tagged, never committed
