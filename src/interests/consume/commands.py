"""The reader's commands of ``interests``: nights, user, topics, similar, recommend.

    interests nights
    interests user --user-id 3f2a... [--ds 2026-11-20 | --as-of-version 41] [--format json]
    interests user --raw-user-id alice
    interests topics -k 5
    interests similar --item-id item-123 -k 10        (retrieval space)
    interests similar --text "slow jazz piano"         (text space, the configured encoder)
    interests recommend --user-id 3f2a... --level subinterest --fresh-events fresh.jsonl

Each reads one published night (``--ds``, or the latest; ``--as-of-version`` resolves the night as
of a Delta version of pipeline_runs) under ``--lake`` (default: the config's lake root), and prints
a readable table, JSON or CSV (``--format``). Vector columns are left out of the output. An unknown
night, user or item is bad input: one line on stderr, exit 2 (``cli.main``).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from interests.config import load_config
from interests.consume.errors import ReaderArgumentError
from interests.consume.reader import LEVELS, NightReader, list_nights

FORMATS = ("table", "json", "csv")


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add the reader commands (nights, user, topics, similar, recommend) to the ``interests`` subparsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--ds", default=None, help="a published ds, YYYY-MM-DD (default: the latest published night)")
    common.add_argument("--as-of-version", type=_version, default=None, metavar="VERSION",
                        help="a Delta version of pipeline_runs: read the night that was current right after it")
    common.add_argument("--lake", default=None, help="lake root (default: the config's paths.lake_root)")
    common.add_argument("--format", choices=FORMATS, default="table", help="output format (default: a readable table)")

    nights = subparsers.add_parser("nights", parents=[common], help="list the published nights (ds, run, time, tables, models)")
    nights.add_argument("-k", type=_positive, default=None, help="only the latest k nights")
    nights.set_defaults(handler=_nights)

    user = subparsers.add_parser("user", parents=[common], help="a user's interests: user row, topics, sub-interests")
    _user_arguments(user)
    user.add_argument("-k", type=_positive, default=None, help="only the k heaviest topics and sub-interests")
    user.set_defaults(handler=_user)

    topics = subparsers.add_parser("topics", parents=[common], help="the topic tree: topics and their sub-interests")
    topics.add_argument("-k", type=_positive, default=None, help="only the k largest topics (with their sub-interests)")
    topics.set_defaults(handler=_topics)

    similar = subparsers.add_parser("similar", parents=[common], help="items nearest an item or a text")
    query = similar.add_mutually_exclusive_group(required=True)
    query.add_argument("--item-id", default=None, help="an item id: nearest in the retrieval space")
    query.add_argument("--text", default=None, help="a text: encoded, nearest in the text space")
    similar.add_argument("-k", type=_positive, default=10, help="how many items (default 10)")
    similar.set_defaults(handler=_similar)

    recommend = subparsers.add_parser("recommend", parents=[common], help="items for a user, from its vector or its sub-interests")
    _user_arguments(recommend)
    recommend.add_argument("-k", type=_positive, default=10, help="how many items (default 10)")
    recommend.add_argument("--level", choices=LEVELS, default="user",
                           help="retrieve with the user-level vector or with each sub-interest (default user)")
    recommend.add_argument("--fresh-events", type=Path, default=None, metavar="JSONL",
                           help="events since the night, one JSON object per line: item_id, event_type, ts")
    recommend.add_argument("--include-engaged", action="store_true",
                           help="keep items the user already engaged with (left out by default)")
    recommend.set_defaults(handler=_recommend)


def _user_arguments(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--user-id", default=None, help="the user id as stored (pseudonymized)")
    who.add_argument("--raw-user-id", default=None, help="a raw user id, pseudonymized with the configured key")


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return number


def _version(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"a Delta version is >= 0, got {value}")
    return number


# ---------------------------------------------------------------------- handlers


def _reader(args: argparse.Namespace) -> NightReader:
    return NightReader(lake_root=args.lake, ds=args.ds, as_of_version=args.as_of_version, config=load_config())


def _night_line(reader: NightReader) -> str:
    night = reader.night
    return f"ds={night.ds} (run {night.run_id}, published {night.published_at:%Y-%m-%dT%H:%M:%SZ}) under {reader.lake.root}"


def _nights(args: argparse.Namespace) -> int:
    table = list_nights(args.lake, args.as_of_version)  # the config is read only without --lake
    if args.ds is not None:
        table = table.filter(pc.equal(table.column("ds"), args.ds))
        if table.num_rows == 0:
            raise ReaderArgumentError(f"ds={args.ds} is not a published night")
    if args.k is not None:
        table = table.slice(max(0, table.num_rows - args.k))
    if args.format == "json":
        _print_json({"nights": _records(table)})
    elif args.format == "csv":
        print(_csv(table), end="")
    else:
        print(_text(table.drop_columns(["table_versions"])))
    return 0


def _user(args: argparse.Namespace) -> int:
    reader = _reader(args)
    interests = reader.user(args.raw_user_id or args.user_id, raw=args.raw_user_id is not None)
    topics, subinterests = interests.topics, interests.subinterests
    if args.k is not None:
        topics, subinterests = topics.slice(0, args.k), subinterests.slice(0, args.k)
    sections = {"user": interests.user, "topics": topics, "subinterests": subinterests}
    if args.format == "json":
        _print_json({"ds": reader.ds, "run_id": reader.night.run_id, "user_id": interests.user_id,
                     "user": _records(interests.user)[0], "topics": _records(topics), "subinterests": _records(subinterests)})
    elif args.format == "csv":
        print("\n".join(f"# {name}\n{_csv(rows)}" for name, rows in sections.items()), end="")
    else:
        print(_night_line(reader))
        for name, rows in sections.items():
            print(f"\n{name}:\n{_text(rows.drop_columns(['ds']))}")
    return 0


def _topics(args: argparse.Namespace) -> int:
    reader = _reader(args)
    tree = reader.topic_tree()
    if args.k is not None:
        roots = [row for row in tree.to_pylist() if row["level"] == "topic"]
        kept = {row["node_id"] for row in sorted(roots, key=lambda row: (-row["size"], row["node_id"]))[: args.k]}
        tree = tree.filter(pa.array([(row["parent_id"] or row["node_id"]) in kept for row in tree.to_pylist()]))
    _print_rows(args, reader, "topics", tree)
    return 0


def _similar(args: argparse.Namespace) -> int:
    reader = _reader(args)
    _print_rows(args, reader, "items", reader.similar_items(item_id=args.item_id, text=args.text, k=args.k))
    return 0


def _recommend(args: argparse.Namespace) -> int:
    reader = _reader(args)
    fresh = _read_fresh_events(args.fresh_events) if args.fresh_events else None
    items = reader.recommend(
        args.raw_user_id or args.user_id, k=args.k, level=args.level, fresh_events=fresh,
        exclude_engaged=not args.include_engaged, raw=args.raw_user_id is not None,
    )
    _print_rows(args, reader, "items", items)
    return 0


def _read_fresh_events(path: Path) -> list[dict]:
    """The events of a JSON-lines file (blank lines skipped); a bad line is bad input naming its number."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise ReaderArgumentError(f"cannot read --fresh-events {path}: {error}") from None
    events = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise ReaderArgumentError(f"{path}:{number} is not JSON: {error}") from None
    return events


# ---------------------------------------------------------------------- output


def _print_rows(args: argparse.Namespace, reader: NightReader, name: str, rows: pa.Table) -> None:
    if args.format == "json":
        _print_json({"ds": reader.ds, "run_id": reader.night.run_id, name: _records(rows)})
    elif args.format == "csv":
        print(_csv(rows), end="")
    else:
        print(_night_line(reader))
        print(_text(rows))


def _is_vector(data_type: pa.DataType) -> bool:
    return pa.types.is_list(data_type) and pa.types.is_floating(data_type.value_type)


def _shown(table: pa.Table) -> pa.Table:
    """The table without its vector columns (embeddings are for programs: use the Python API)."""
    return table.select([field.name for field in table.schema if not _is_vector(field.type)])


def _records(table: pa.Table) -> list[dict[str, Any]]:
    """JSON-ready rows: maps as objects, times as ISO-8601 text, vectors left out."""
    table = _shown(table)
    maps = [field.name for field in table.schema if pa.types.is_map(field.type)]
    rows = table.to_pylist()
    for row in rows:
        for name in maps:
            if row[name] is not None:
                row[name] = dict(row[name])
        for name, value in row.items():
            if isinstance(value, datetime):
                row[name] = value.isoformat()
    return rows


def _print_json(document: dict) -> None:
    print(json.dumps(document, indent=2, sort_keys=False))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return ", ".join(f"{key}={item}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(_cell(item) for item in value)
    return str(value)


def _csv(table: pa.Table) -> str:
    """CSV with a header; lists and maps as JSON text in their cell."""
    records = _records(table)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_shown(table).column_names)
    for row in records:
        writer.writerow([json.dumps(value) if isinstance(value, (list, dict)) else ("" if value is None else value)
                         for value in row.values()])
    return out.getvalue()


def _text(table: pa.Table) -> str:
    """A readable fixed-width table (numbers right-aligned), or "(no rows)"."""
    records = _records(table)
    columns = _shown(table).column_names
    if not records:
        return "(no rows)"
    numeric = {field.name for field in table.schema if pa.types.is_integer(field.type) or pa.types.is_floating(field.type)}
    cells = [[_cell(row[name]) for name in columns] for row in records]
    widths = [max(len(name), *(len(row[i]) for row in cells)) for i, name in enumerate(columns)]

    def line(values: list[str]) -> str:
        return "  ".join(value.rjust(width) if name in numeric else value.ljust(width)
                         for name, value, width in zip(columns, values, widths)).rstrip()

    return "\n".join([line(columns), line(["-" * width for width in widths]), *(line(row) for row in cells)])
