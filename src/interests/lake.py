"""Delta Lake reads and writes with one of two engines, chosen by ``lake.engine``.

- **delta-rs**: the job's driver writes Arrow tables. A Spark DataFrame bound for a ds partition of a
  local lake is written as Parquet by the executors and only committed by the driver (delta-rs
  ``create_write_transaction``), so no row of it passes through the driver; elsewhere it is
  collected first. No JVM library, fast for the tables of one machine.
- **delta-spark**: a Spark DataFrame is written by the executors (the Delta jars that
  ``make install`` resolves); only the commit happens on the driver. An Arrow table handed to it is
  first made a DataFrame, so small driver-side tables work too.

Every write of a ds partition is one Delta commit that replaces exactly that partition
(``overwrite`` with a ``ds = '...'`` predicate on delta-rs, ``replaceWhere`` on delta-spark), so a
reader sees the old partition or the new one, never a mix, and a rerun replaces rather than appends.
Rows are sorted by the table key (within each task's output on delta-spark) so a rerun writes the
same content. Tables are created from the catalog schema (names, types, NOT NULL) by either engine,
and readers that need no Spark read what either wrote with delta-rs (``read``).
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import fs

from interests.catalog import TableSpec, is_local, validate_ds
from interests.errors import InterestsError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

logger = logging.getLogger(__name__)

Engine = Literal["delta-rs", "delta-spark"]


class SchemaMismatchError(InterestsError, ValueError):
    """Data handed to the lake does not fit the table's catalog schema."""


def conform(spec: TableSpec, data: pa.Table) -> pa.Table:
    """Select and cast data to the table's schema, naming any missing or uncastable column."""
    missing = [name for name in spec.schema.names if name not in data.column_names]
    if missing:
        raise SchemaMismatchError(f"{spec.name}: missing columns {missing}; got {data.column_names}")
    columns = []
    for field in spec.schema:
        column = data.column(field.name)
        if column.type != field.type:
            try:
                column = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                raise SchemaMismatchError(
                    f"{spec.name}.{field.name}: cannot cast {column.type} to {field.type}: {error}"
                ) from error
        if not field.nullable and column.null_count:
            raise SchemaMismatchError(f"{spec.name}.{field.name}: {column.null_count} nulls in a non-null column")
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=spec.schema)


def _sorted_by_key(spec: TableSpec, data: pa.Table) -> pa.Table:
    if data.num_rows < 2:
        return data
    return data.sort_by([(name, "ascending") for name in spec.key])


class _TaggedCommit:
    """One delta-rs commit of this process, tagged so its version is found even if others commit too.

    Reading the table's version after a commit can name another writer's later commit (two writers
    on different days of one table both reported version 4); the commit's own info names its tag.
    """

    KEY = "interests.write_id"

    def __init__(self, path: Path | str, version_before: int | None = None):
        import uuid

        from deltalake import DeltaTable
        from deltalake.transaction import CommitProperties

        self.path = str(path)
        self.before = DeltaTable(self.path).version() if version_before is None else version_before
        self.write_id = uuid.uuid4().hex
        self.properties = CommitProperties(custom_metadata={self.KEY: self.write_id})

    def version(self) -> int:
        """The version this commit became: the first log entry after ``before`` that carries its tag.

        The commit files ``_delta_log/<version>.json`` are read by name, one after another, never
        through delta-rs' ``history()``: that numbers the commits it lists from the version the table
        was loaded at, so a commit landing between the load and the listing shifted every number by one
        (CI: two writers on different days both reported 2). The same for a local folder and a storage
        URI (pyarrow's filesystem for it, credentials from the environment as delta-rs takes them).
        """
        filesystem, root = location_filesystem(self.path)
        version = self.before + 1
        while True:
            try:
                with filesystem.open_input_stream(f"{root}/_delta_log/{version:020d}.json") as stream:
                    entries = stream.read().decode("utf-8")
            except FileNotFoundError:
                break  # past the newest commit
            for line in entries.splitlines():
                if self.write_id in line and json.loads(line).get("commitInfo", {}).get(self.KEY) == self.write_id:
                    return version
            version += 1
        raise LookupError(f"{self.path}: commit {self.write_id} not in the log after version {self.before}")


def location_filesystem(location: Path | str) -> tuple[fs.FileSystem, str]:
    """A pyarrow filesystem and the path in it of a local folder or a storage URI (s3://, abfss://...)."""
    if is_local(location):
        return fs.LocalFileSystem(), str(Path(location).resolve())
    return fs.FileSystem.from_uri(str(location))


class Lake:
    """The Delta tables under one lake root, read and written with one engine."""

    def __init__(self, root: Path | str, engine: Engine = "delta-rs", spark: SparkSession | None = None):
        self.root = Path(root) if is_local(root) else str(root)
        self.engine = engine
        self.spark = spark
        if engine == "delta-spark" and spark is None:
            raise ValueError("the delta-spark engine needs a SparkSession")

    def path(self, spec: TableSpec) -> Path | str:
        """The table's folder."""
        return spec.path(self.root)

    def exists(self, spec: TableSpec) -> bool:
        """Whether the table has been created."""
        if self.engine == "delta-spark":
            spark = self._require_spark()
            return bool(spark._jvm.io.delta.tables.DeltaTable.isDeltaTable(spark._jsparkSession, str(self.path(spec))))
        from deltalake import DeltaTable

        return DeltaTable.is_deltatable(str(self.path(spec)))

    def version(self, spec: TableSpec) -> int | None:
        """The table's current Delta version, or None if it does not exist."""
        if not self.exists(spec):
            return None
        if self.engine == "delta-spark":
            history = self._require_spark().sql(f"DESCRIBE HISTORY delta.`{self.path(spec)}` LIMIT 1").collect()
            return int(history[0]["version"])
        from deltalake import DeltaTable

        return DeltaTable(str(self.path(spec))).version()

    def partitions(self, spec: TableSpec) -> list[str]:
        """The values of the table's (first) partition column it holds, sorted."""
        if not self.exists(spec):
            return []
        column = spec.partition_by[0]
        if self.engine == "delta-spark":
            # A scan of the partition column alone (Spark reads no data column for it).
            frame = self._require_spark().read.format("delta").load(str(self.path(spec)))
            return sorted(row[column] for row in frame.select(column).distinct().collect())
        from deltalake import DeltaTable

        return sorted({part[column] for part in DeltaTable(str(self.path(spec))).partitions()})

    def _ensure_table(self, spec: TableSpec) -> None:
        from deltalake import DeltaTable

        if self.engine == "delta-spark":
            self._spark_create(spec)
            return
        if not self.exists(spec):
            if is_local(self.path(spec)):
                Path(self.path(spec)).mkdir(parents=True, exist_ok=True)
            DeltaTable.create(
                str(self.path(spec)), spec.schema, partition_by=list(spec.partition_by),
                name=spec.name, description=spec.description, mode="ignore",
            )

    # ---------------------------------------------------------------- writes

    def write_partition(
        self, spec: TableSpec, ds: str, data: pa.Table | DataFrame, where: dict[str, str] | None = None
    ) -> int:
        """Replace the ds partition (or the rows of it matching ``where``) atomically; return the new version."""
        validate_ds(ds)
        if spec.partition_by != ("ds",):
            raise ValueError(f"{spec.name} is partitioned by {spec.partition_by}, not ds")
        bounds = {"ds": ds, **(where or {})}
        for column, value in bounds.items():
            if column not in spec.schema.names or "'" in value:
                raise ValueError(f"{spec.name}: cannot replace rows where {column} = {value!r}")
        predicate = " AND ".join(f"{column} = '{value}'" for column, value in bounds.items())
        if self.engine == "delta-spark":
            return self._spark_write(spec, self._as_spark(spec, data), predicate)
        if not isinstance(data, pa.Table) and where is None and self._executors_can_write(spec):
            return self._delta_rs_commit_frame(spec, ds, data)
        table = conform(spec, self._as_arrow(data))
        for column, value in bounds.items():
            wrong = pc.sum(pc.not_equal(table.column(column), pa.scalar(value))).as_py() or 0
            if wrong:
                raise SchemaMismatchError(f"{spec.name}: {wrong} rows have a {column} other than {value!r}")
        return self._delta_rs_write(spec, table, predicate=predicate)

    def append(self, spec: TableSpec, data: pa.Table | DataFrame) -> int:
        """Append rows (the encoding cache); return the new version."""
        if self.engine == "delta-spark":
            return self._spark_write(spec, self._as_spark(spec, data), None)
        return self._delta_rs_write(spec, conform(spec, self._as_arrow(data)), predicate=None)

    def _delta_rs_write(self, spec: TableSpec, table: pa.Table, predicate: str | None) -> int:
        from deltalake import DeltaTable, write_deltalake

        self._ensure_table(spec)
        mode = "append" if predicate is None else "overwrite"
        if predicate is None and table.num_rows == 0:
            return DeltaTable(str(self.path(spec))).version()
        # Rows are conformed to the catalog schema, so "merge" only ever adds the columns a newer
        # catalog declares to a table an older release created; it never lets stray columns in.
        commit = _TaggedCommit(self.path(spec))
        write_deltalake(
            str(self.path(spec)), _sorted_by_key(spec, table), mode=mode, predicate=predicate,
            partition_by=list(spec.partition_by), schema_mode="merge", commit_properties=commit.properties,
        )
        version = commit.version()
        logger.info("%s: wrote %d rows (%s), version %d", spec.name, table.num_rows, predicate or "append", version)
        return version

    def _executors_can_write(self, spec: TableSpec) -> bool:
        """Whether a DataFrame can go straight from the executors into this delta-rs table.

        The lake must be a local folder (the driver lists and commits the files), and an existing
        table must already have every catalog column: adding one is left to the Arrow path's merge.
        """
        from deltalake import DeltaTable

        if not is_local(self.path(spec)) or self.spark is None:
            return False
        if not self.exists(spec):
            return True
        have = set(DeltaTable(str(self.path(spec))).schema().to_arrow().names)
        return set(spec.schema.names) <= have

    def _delta_rs_commit_frame(self, spec: TableSpec, ds: str, frame: DataFrame) -> int:
        """Replace the ds partition with a DataFrame the executors write; the driver only commits.

        The executors write Parquet files (rows sorted by key within each task, the ds column left
        to the partition values as Delta stores it) into a folder of their own under the partition;
        delta-rs then commits them, replacing the partition's files, as one transaction. Until that
        commit no reader sees them; a write that fails leaves files no log lists, removed here or by
        a later vacuum. No row passes through the driver, so a day of any size fits its memory.
        """
        import shutil
        import uuid

        import pyarrow.parquet as pq
        from deltalake import DeltaTable
        from deltalake.transaction import AddAction
        from pyspark.sql import functions as F

        self._ensure_table(spec)
        frame = conform_frame(spec, frame)
        first = next(name for name in spec.schema.names if name != "ds")
        # A row of another ds would be filed under this one: fail the write instead (no extra pass).
        guarded = F.when(F.col("ds") == F.lit(ds), F.col(first)).otherwise(
            F.raise_error(F.lit(f"{spec.name}: a row has a ds other than {ds!r}"))
        )
        frame = frame.withColumn(first, guarded).drop("ds")
        if spec.key:
            frame = frame.sortWithinPartitions(*[name for name in spec.key if name != "ds"])
        relative = f"ds={ds}/write-{uuid.uuid4().hex}"
        folder = Path(self.path(spec)) / relative
        try:
            frame.write.mode("errorifexists").option("compression", "snappy").parquet(str(folder))
            actions = []
            rows = 0
            for file in sorted(folder.glob("*.parquet")):
                records = pq.read_metadata(file).num_rows
                rows += records
                stat = file.stat()
                actions.append(AddAction(
                    f"{relative}/{file.name}", stat.st_size, {"ds": ds}, int(stat.st_mtime * 1000), True,
                    f'{{"numRecords":{records}}}',
                ))
            for other in folder.iterdir():
                if other.suffix != ".parquet":
                    other.unlink()  # _SUCCESS and checksum files: not data
            table = DeltaTable(str(self.path(spec)))
            commit = _TaggedCommit(self.path(spec), table.version())
            table.create_write_transaction(
                actions, mode="overwrite", schema=table.schema(), partition_by=list(spec.partition_by),
                partition_filters=[("ds", "=", ds)], commit_properties=commit.properties,
            )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        version = commit.version()
        logger.info("%s: the executors wrote %d rows in %d files (ds = '%s'), version %d",
                    spec.name, rows, len(actions), ds, version)
        return version

    def _spark_create(self, spec: TableSpec) -> None:
        """Create the table from the catalog schema (NOT NULL kept), partitioning, name and comment."""
        if self.exists(spec):
            return
        spark = self._require_spark()
        columns = ", ".join(
            f"`{field.name}` {field.dataType.simpleString()}" + ("" if field.nullable else " NOT NULL")
            for field in spark_schema_of(spec)
        )
        comment = spec.description.replace("'", "\\'")
        partitioned = ", ".join(f"`{column}`" for column in spec.partition_by)
        spark.sql(
            f"CREATE TABLE IF NOT EXISTS delta.`{self.path(spec)}` ({columns}) USING DELTA "
            f"PARTITIONED BY ({partitioned}) COMMENT '{comment}'"
        )

    def _spark_write(self, spec: TableSpec, frame: DataFrame, replace_where: str | None) -> int:
        """Write from the executors: one Delta commit, rows sorted by key within each task's files."""
        self._ensure_table(spec)
        frame = conform_frame(spec, frame)
        if spec.key:
            frame = frame.sortWithinPartitions(*spec.key)
        # mergeSchema only adds the columns a newer catalog declares (rows are conformed first).
        writer = frame.write.format("delta").option("mergeSchema", "true")
        if replace_where is None:
            writer.mode("append").save(str(self.path(spec)))
        else:
            writer.mode("overwrite").option("replaceWhere", replace_where).save(str(self.path(spec)))
        version = self.version(spec)
        logger.info("%s: wrote from the executors (%s), version %s", spec.name, replace_where or "append", version)
        return version

    # ---------------------------------------------------------------- reads

    def read(
        self, spec: TableSpec, ds: str | None = None, columns: list[str] | None = None,
        filters: list[tuple[str, str, Any]] | None = None, version: int | None = None,
    ) -> pa.Table:
        """A table (or one ds partition of it) as Arrow; an empty table if it does not exist.

        ``version`` reads the table as it was at that Delta version (time travel), as a published
        night's readers do (``publishing/nights.py``).
        """
        from deltalake import DeltaTable

        if ds is not None:
            validate_ds(ds)  # before anything else: a bad ds is an error even where the table does not exist yet
        if not self.exists(spec):
            schema = spec.schema if columns is None else pa.schema([spec.schema.field(c) for c in columns])
            return schema.empty_table()
        # Only partition filters go to delta-rs: it prunes files by their column statistics, and
        # delta-spark writes no min/max for booleans, which delta-rs 1.6 then reads as "no row
        # matches" (chosen = true found nothing in a delta-spark night). Other filters apply to
        # the rows read.
        partition_filters = [f for f in filters or [] if f[0] in spec.partition_by]
        row_filters = [f for f in filters or [] if f[0] not in spec.partition_by]
        if ds is not None:
            partition_filters.append(("ds", "=", validate_ds(ds)))
        wanted = columns
        if columns is not None and row_filters:
            columns = list(dict.fromkeys([*columns, *(f[0] for f in row_filters)]))
        path = self.path(spec)
        filesystem = None
        if is_local(path):
            # pyarrow's own local filesystem, not one written in Python: a Python filesystem's file
            # handles can be freed by a pyarrow thread after the interpreter began shutting down,
            # which aborted `interests summary` about 1 run in 20 on a busy machine (exit 134).
            filesystem = fs.SubTreeFileSystem(str(Path(path).resolve()), fs.LocalFileSystem())
        data = DeltaTable(str(path), version=version).to_pyarrow_table(
            columns=columns, filters=partition_filters or None, filesystem=filesystem
        )
        if row_filters:
            data = data.filter(_row_mask(data, row_filters))
            if wanted is not None:
                data = data.select(wanted)
        return data

    def read_spark(
        self, spec: TableSpec, ds: str | None = None, ds_from: str | None = None, ds_to: str | None = None,
        version: int | None = None,
    ) -> DataFrame:
        """A table as a Spark DataFrame, optionally one ds or an inclusive ds range, optionally at a Delta version.

        With delta-rs the Delta log picks the live Parquet files and Spark reads them directly,
        so a large table never passes through the driver.
        """
        from pyspark.sql import functions as F

        spark = self._require_spark()
        bounds = [("ds", "=", validate_ds(ds))] if ds else []
        if ds_from:
            bounds.append(("ds", ">=", validate_ds(ds_from)))
        if ds_to:
            bounds.append(("ds", "<=", validate_ds(ds_to)))
        spark_schema = spark_schema_of(spec)
        if not self.exists(spec):
            return spark.createDataFrame([], spark_schema)
        if self.engine == "delta-spark":
            reader = spark.read.format("delta")
            if version is not None:
                reader = reader.option("versionAsOf", int(version))
            frame = reader.load(str(self.path(spec)))
            for column, op, value in bounds:
                frame = frame.where(F.expr(f"{column} {op} '{value}'"))
            return frame.select(*spec.schema.names)
        from deltalake import DeltaTable

        files = DeltaTable(str(self.path(spec)), version=version).file_uris(file_pruning_predicate=bounds or None)
        if not files:
            return spark.createDataFrame([], spark_schema)
        return (
            spark.read.schema(spark_schema).option("basePath", str(self.path(spec))).parquet(*files)
            .select(*spec.schema.names)
        )

    # ---------------------------------------------------------------- maintenance
    # Compaction, vacuum and log cleanup; the retention rule that decides their hours is in
    # publishing/maintenance.py. Table metadata (versions, commit times, files) is read with delta-rs
    # whichever engine wrote the table, as ``read`` does.

    def compact(self, spec: TableSpec, partition: list[tuple[str, str, str]] | None = None) -> dict[str, int]:
        """Merge small files of the partitions matching ``partition`` (all if None) in one commit; same rows.

        ``partition`` holds (partition column, op, value) filters, e.g. ``[("ds", ">=", "2026-11-14")]``.
        Returns ``files_removed`` and ``files_added`` (both 0, and no commit, when nothing was small).
        """
        filters = _partition_filters(spec, partition)
        if not self.exists(spec):
            return {"files_removed": 0, "files_added": 0}
        if self.engine == "delta-spark":
            where = " AND ".join(f"`{column}` {op} '{value}'" for column, op, value in filters)
            sql = f"OPTIMIZE delta.`{self.path(spec)}`" + (f" WHERE {where}" if where else "")
            metrics = self._require_spark().sql(sql).collect()[0]["metrics"]
            result = {"files_removed": int(metrics["numFilesRemoved"]), "files_added": int(metrics["numFilesAdded"])}
        else:
            from deltalake import DeltaTable

            metrics = DeltaTable(str(self.path(spec))).optimize.compact(partition_filters=filters or None)
            result = {"files_removed": int(metrics["numFilesRemoved"]), "files_added": int(metrics["numFilesAdded"])}
        logger.info("%s: compacted %d files into %d (%s)", spec.name, result["files_removed"], result["files_added"],
                    filters or "whole table")
        return result

    def delete_days_before(self, spec: TableSpec, ds: str, dry_run: bool = False) -> int:
        """Delete the ds partitions before ``ds`` in one commit (none when there are none); return their rows.

        The files stay for the versions that read them until vacuum removes them.
        """
        validate_ds(ds)
        if spec.partition_by != ("ds",):
            raise ValueError(f"{spec.name} is partitioned by {spec.partition_by}, not ds")
        if not self.exists(spec):
            return 0
        rows = self.read(spec, columns=["ds"], filters=[("ds", "<", ds)]).num_rows
        if rows == 0 or dry_run:
            return rows
        if self.engine == "delta-spark":
            self._require_spark().sql(f"DELETE FROM delta.`{self.path(spec)}` WHERE ds < '{ds}'").collect()
        else:
            from deltalake import DeltaTable

            DeltaTable(str(self.path(spec))).delete(predicate=f"ds < '{ds}'")
        logger.info("%s: deleted the %d rows of the days before %s", spec.name, rows, ds)
        return rows

    def drop_repeated_keys(self, spec: TableSpec, dry_run: bool = False) -> int:
        """Keep one row per key in a table that is appended to (the encoding cache); return the rows dropped.

        Two nights that encode the same new text at once (a backfill beside the nightly run) both append
        it: the same key twice. Each partition holding a repeated key is rewritten without the later
        copies (the row with the smallest other sortable values is kept: for the cache, the earliest
        ``first_ds``) in one commit, so a reader sees the table before or after, never a key missing.
        Only the key columns are read unless a key repeats.
        """
        if not spec.key or not self.exists(spec):
            return 0
        keys = self.read(spec, columns=list(spec.key))
        counted = keys.group_by(list(spec.key)).aggregate([([], "count_all")])
        repeated = counted.filter(pc.greater(counted.column("count_all"), 1))
        if repeated.num_rows == 0:
            return 0
        dropped = int(pc.sum(repeated.column("count_all")).as_py()) - repeated.num_rows
        logger.warning("%s: %d rows repeat %d keys", spec.name, dropped, repeated.num_rows)
        if dry_run:
            return dropped
        parts = [column for column in spec.partition_by if column in spec.key]
        for values in (repeated.select(parts).group_by(parts).aggregate([]).to_pylist() if parts else [{}]):
            bounds = [(column, "=", value) for column, value in values.items()]
            rows = self.read(spec, filters=bounds or None)
            order = list(spec.key) + [
                name for name in rows.column_names
                if name not in spec.key and not pa.types.is_nested(rows.schema.field(name).type)
            ]
            rows = rows.sort_by([(name, "ascending") for name in order])
            first = rows.append_column("_row", pa.array(range(rows.num_rows), pa.int64())).group_by(
                list(spec.key), use_threads=False
            ).aggregate([("_row", "min")])
            kept = rows.take(first.column("_row_min")).select(spec.schema.names)
            if any("'" in str(value) for value in values.values()):
                raise ValueError(f"{spec.name}: cannot rewrite the partition {values!r}")
            predicate = " AND ".join(f"{column} = '{value}'" for column, value in values.items()) or None
            if self.engine == "delta-spark":
                self._spark_write(spec, self._as_spark(spec, kept), predicate or "true")
            else:
                self._delta_rs_write(spec, conform(spec, kept), predicate=predicate or "true")
        return dropped

    def vacuum(self, spec: TableSpec, retention_hours: int, dry_run: bool = False) -> list[str]:
        """Delete files no version younger than ``retention_hours`` reads; return them (only list them if dry_run).

        That includes files older than the retention that no version ever named: those of a writer
        killed before its commit (``tests/faults/test_killed_writer.py``).

        The engines' own minimum retention (``delta.deletedFileRetentionDuration``, 7 days) is not
        enforced: the caller's retention rule decides (``publishing/maintenance.py``).
        """
        if retention_hours < 0:
            raise ValueError(f"{spec.name}: retention_hours must be >= 0, got {retention_hours}")
        if not self.exists(spec):
            return []
        if self.engine == "delta-spark":
            spark = self._require_spark()
            check = "spark.databricks.delta.retentionDurationCheck.enabled"
            before = spark.conf.get(check, "true")
            spark.conf.set(check, "false")  # for this call only: restored below
            try:
                sql = f"VACUUM delta.`{self.path(spec)}` RETAIN {int(retention_hours)} HOURS"
                files = [row["path"] for row in spark.sql(f"{sql} DRY RUN").collect()]
                if files and not dry_run:
                    spark._jvm.io.delta.tables.DeltaTable.forPath(
                        spark._jsparkSession, str(self.path(spec))
                    ).vacuum(float(retention_hours))
            finally:
                spark.conf.set(check, before)
        else:
            from deltalake import DeltaTable

            # full: also files no log entry names (a writer killed between its files and its commit),
            # not only the ones a commit removed; delta-spark's VACUUM does the same.
            files = DeltaTable(str(self.path(spec))).vacuum(
                retention_hours=int(retention_hours), dry_run=dry_run, enforce_retention_duration=False, full=True
            )
        logger.info("%s: vacuum (retain %d h)%s %d files", spec.name, retention_hours,
                    " would delete" if dry_run else " deleted", len(files))
        return list(files)

    def clean_log(
        self, spec: TableSpec, log_retention_hours: int, removed_retention_hours: int, dry_run: bool = False
    ) -> dict[str, str]:
        """Set how much history the table keeps, then drop expired log files; return the properties changed.

        Both engines delete a log file only when it is older than ``delta.logRetentionDuration`` and a
        checkpoint older than that follows it, so every version committed within it stays readable
        (time travel): it is set to ``log_retention_hours``. A checkpoint forgets removed files older
        than ``delta.deletedFileRetentionDuration`` (delta-spark's vacuum then treats them as unknown
        files it may delete): it is changed to ``removed_retention_hours`` where shorter, never lowered.
        delta-rs then writes a checkpoint and removes the expired log files; delta-spark removes them
        itself at its own checkpoints (every 10 commits).
        """
        if not self.exists(spec):
            return {}
        from deltalake import DeltaTable

        table = DeltaTable(str(self.path(spec)))
        configuration = table.metadata().configuration
        log_name, removed_name = _RETENTION_PROPERTIES
        changed = {}
        if _interval_hours(configuration.get(log_name), _RETENTION_PROPERTIES[log_name]) != log_retention_hours:
            changed[log_name] = f"interval {int(log_retention_hours)} hours"
        if _interval_hours(configuration.get(removed_name), _RETENTION_PROPERTIES[removed_name]) < removed_retention_hours:
            changed[removed_name] = f"interval {int(removed_retention_hours)} hours"
        if dry_run:
            return changed
        if changed and self.engine == "delta-spark":
            properties = ", ".join(f"'{name}' = '{value}'" for name, value in changed.items())
            self._require_spark().sql(f"ALTER TABLE delta.`{self.path(spec)}` SET TBLPROPERTIES ({properties})")
        elif self.engine == "delta-rs":
            if changed:
                table.alter.set_table_properties(changed)
                table = DeltaTable(str(self.path(spec)))
            table.create_checkpoint()
            table.cleanup_metadata()
        if changed:
            logger.info("%s: history retention set: %s", spec.name, changed)
        return changed

    def commit_time(self, spec: TableSpec, version: int) -> datetime:
        """When ``version`` of the table was committed (UTC), from its commit info."""
        from deltalake import DeltaTable

        table = DeltaTable(str(self.path(spec)))
        for commit in table.history(limit=max(table.version() - int(version) + 1, 1)):
            if commit.get("version") == int(version) and commit.get("timestamp") is not None:
                return datetime.fromtimestamp(commit["timestamp"] / 1000, tz=UTC)
        raise LookupError(f"{spec.name}: no commit info for version {version} (log cleaned up, or never written)")

    def live_files(self, spec: TableSpec) -> int:
        """How many data files the table's current version reads."""
        if not self.exists(spec):
            return 0
        from deltalake import DeltaTable

        return len(DeltaTable(str(self.path(spec))).file_uris())

    def logged_rows(self, spec: TableSpec, ds: str | None = None, version: int | None = None) -> int | None:
        """Rows of the table (or one ds partition) at a version, summed from the Delta log's per-file numRecords.

        No data file is read. None when the table does not exist or a file has no record count in the
        log (a writer that keeps no statistics): count the rows instead.
        """
        if not self.exists(spec):
            return None
        from deltalake import DeltaTable

        actions = pa.table(DeltaTable(str(self.path(spec)), version=version).get_add_actions(flatten=True))
        if ds is not None:
            actions = actions.filter(pc.equal(actions["partition.ds"], validate_ds(ds)))
        records = actions["num_records"]
        if records.null_count:
            return None
        return int(pc.sum(records).as_py() or 0)

    # ---------------------------------------------------------------- conversions

    def _require_spark(self) -> SparkSession:
        if self.spark is None:
            raise ValueError("this Lake was built without a SparkSession")
        return self.spark

    def _as_arrow(self, data: pa.Table | DataFrame) -> pa.Table:
        if isinstance(data, pa.Table):
            return data
        return data.toArrow()

    def _as_spark(self, spec: TableSpec, data: pa.Table | DataFrame) -> DataFrame:
        if isinstance(data, pa.Table):
            table = conform(spec, data)
            return self._require_spark().createDataFrame(table)
        return data


def conform_frame(spec: TableSpec, frame: DataFrame) -> DataFrame:
    """Select and cast a DataFrame's columns to the table's schema, naming any missing column."""
    from pyspark.sql import functions as F

    missing = [name for name in spec.schema.names if name not in frame.columns]
    if missing:
        raise SchemaMismatchError(f"{spec.name}: missing columns {missing}; got {frame.columns}")
    schema = spark_schema_of(spec)
    return frame.select(
        *(
            F.col(name) if frame.schema[name].dataType == schema[name].dataType
            else F.col(name).cast(schema[name].dataType).alias(name)
            for name in spec.schema.names
        )
    )


_COMPARISONS = {
    "=": pc.equal, "==": pc.equal, "!=": pc.not_equal, "<": pc.less, "<=": pc.less_equal,
    ">": pc.greater, ">=": pc.greater_equal,
}


def _row_mask(data: pa.Table, filters: list[tuple[str, str, Any]]) -> pa.ChunkedArray | pa.Array:
    """The rows matching every (column, op, value) filter: comparisons, ``in`` and ``not in``."""
    mask = None
    for column, op, value in filters:
        values = data.column(column)
        if op == "in":
            match = pc.is_in(values, value_set=pa.array(list(value), type=values.type))
        elif op == "not in":
            match = pc.invert(pc.is_in(values, value_set=pa.array(list(value), type=values.type)))
        elif op in _COMPARISONS:
            match = _COMPARISONS[op](values, pa.scalar(value, type=values.type))
        else:
            raise ValueError(f"unsupported filter operator {op!r} on {column}")
        match = pc.fill_null(match, False)
        mask = match if mask is None else pc.and_(mask, match)
    return mask


_PARTITION_OPS = ("=", "!=", "<", "<=", ">", ">=")
_INTERVAL = re.compile(r"^(?:interval\s+)?(\d+)\s*(week|day|hour|minute|second)s?$", re.IGNORECASE)
_HOURS_PER_UNIT = {"week": 168.0, "day": 24.0, "hour": 1.0, "minute": 1 / 60, "second": 1 / 3600}
_RETENTION_PROPERTIES = {"delta.logRetentionDuration": 30 * 24, "delta.deletedFileRetentionDuration": 7 * 24}
"""History a table keeps (hours) when it does not set the property: both engines' defaults."""


def _partition_filters(spec: TableSpec, partition: list[tuple[str, str, str]] | None) -> list[tuple[str, str, str]]:
    """Check (column, op, value) filters name partition columns, plain comparisons and quote-free values."""
    checked = []
    for column, op, value in partition or []:
        if column not in spec.partition_by or op not in _PARTITION_OPS or "'" in str(value):
            raise ValueError(
                f"{spec.name}: cannot select partitions where {column} {op} {value!r}; "
                f"partition columns {list(spec.partition_by)}, operators {list(_PARTITION_OPS)}"
            )
        checked.append((column, op, str(value)))
    return checked


def _interval_hours(value: str | None, default: int) -> int:
    """Hours of a Delta interval property such as 'interval 30 days'; ``default`` when unset."""
    if value is None:
        return default
    match = _INTERVAL.match(value.strip())
    if not match:
        raise ValueError(f"cannot read the Delta interval {value!r}; expected e.g. 'interval 30 days'")
    return int(int(match.group(1)) * _HOURS_PER_UNIT[match.group(2).lower()])


def spark_schema_of(spec: TableSpec):
    """The Spark StructType of a catalog table."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(spec.schema)
