"""NightReader on a lake of known nights: which night it reads, and the exact rows it returns."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest
from published_lake import item_ids, user_subinterests

from interests.behaviour.decay import fold_in
from interests.behaviour.space import as_query
from interests.config import load_config
from interests.consume import (
    NightReader,
    NoPublishedNightError,
    ReaderArgumentError,
    UnknownItemError,
    UnknownUserError,
    list_nights,
)
from interests.errors import InterestsError
from interests.pseudonyms import pseudonymize_user_id

DAY_END = datetime(2026, 11, 20, tzinfo=UTC)  # end of the latest published night, 2026-11-19


def _unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float64)
    return vector / np.linalg.norm(vector)


def _user_vector(reader: NightReader, user_id: str) -> np.ndarray:
    return np.asarray(reader.user(user_id).user.column("embedding")[0].as_py())


# ---------------------------------------------------------------------- which night


def test_reads_the_latest_published_night_by_default_never_the_failed_one(published):
    root, content = published
    reader = NightReader(root)
    assert (reader.ds, reader.night.run_id) == ("2026-11-19", "scheduled__2026-11-19")
    vector = _user_vector(reader, "u03")
    np.testing.assert_allclose(vector, content["2026-11-19"].user_vectors["u03"], atol=1e-6)
    # The failed night (2026-11-20) was written later, with other vectors: a reader must not see them.
    assert not np.allclose(vector, content["failed"].user_vectors["u03"], atol=1e-3)


def test_a_failed_night_cannot_be_asked_for(published):
    root, _ = published
    with pytest.raises(NoPublishedNightError, match="ds=2026-11-20 is not a published night"):
        NightReader(root, ds="2026-11-20")


def test_a_published_ds_whose_rerun_failed_keeps_its_first_publication(published):
    root, content = published
    reader = NightReader(root, ds="2026-11-18")
    assert reader.night.run_id == "scheduled__2026-11-18"
    items = reader.items()
    vector = np.asarray(items.column("embedding")[items.column("item_id").to_pylist().index("t1.s0.i4")].as_py())
    np.testing.assert_allclose(vector, content["2026-11-18"].item_vectors["t1.s0.i4"], atol=1e-6)
    assert not np.allclose(vector, content["rerun"].item_vectors["t1.s0.i4"], atol=1e-3)
    np.testing.assert_allclose(_user_vector(reader, "u05"), content["2026-11-18"].user_vectors["u05"], atol=1e-6)


def test_as_of_version_reads_the_night_current_after_that_commit(published):
    root, content = published
    # pipeline_runs: version 0 creates the table, 1 publishes 2026-11-18, 2 publishes -19, 3 and 4 fail.
    earlier = NightReader(root, as_of_version=1)
    assert earlier.ds == "2026-11-18"
    np.testing.assert_allclose(_user_vector(earlier, "u07"), content["2026-11-18"].user_vectors["u07"], atol=1e-6)
    assert NightReader(root, as_of_version=3).ds == "2026-11-19"
    with pytest.raises(NoPublishedNightError, match="no night is published"):
        NightReader(root, as_of_version=0)
    with pytest.raises(NoPublishedNightError):
        NightReader(root, ds="2026-11-19", as_of_version=1)


def test_list_nights_names_each_current_publication(published):
    root, _ = published
    nights = list_nights(root).to_pylist()
    assert [(night["ds"], night["run_id"], night["tables"]) for night in nights] == [
        ("2026-11-18", "scheduled__2026-11-18", 7), ("2026-11-19", "scheduled__2026-11-19", 7),
    ]
    assert dict(nights[1]["registered_models"]) == {"interests-encoder": "1", "interests-hierarchy": "2"}
    assert [night["ds"] for night in list_nights(root, as_of_version=1).to_pylist()] == ["2026-11-18"]


# ---------------------------------------------------------------------- a user's levels, the tree


def test_user_returns_its_three_levels_with_labels(published):
    root, _ = published
    interests = NightReader(root).user("u00")
    assert interests.user.num_rows == 1 and interests.user.column("user_id")[0].as_py() == "u00"
    assert [(row["topic_id"], round(row["weight"], 6), row["label"]) for row in interests.topics.to_pylist()] == [
        ("t0", round(2 / 3, 6), "cooking / recipes"), ("t1", round(1 / 3, 6), "football / league"),
    ]
    subinterests = [
        (row["subinterest_id"], round(row["weight"], 6), row["label"], row["topic_id"], row["medoid_item_id"])
        for row in interests.subinterests.to_pylist()
    ]
    assert subinterests == [
        ("t0.s0", round(2 / 3, 6), "cooking s0", "t0", "t0.s0.i0"), ("t1.s1", round(1 / 3, 6), "football s1", "t1", "t1.s1.i0"),
    ]
    assert list(interests.subinterests.to_pandas().columns[:3]) == ["ds", "user_id", "subinterest_id"]


def test_unknown_user_is_a_typed_error_naming_it(published):
    root, _ = published
    reader = NightReader(root)
    with pytest.raises(UnknownUserError, match="user 'nobody' has no row in user_embeddings of ds=2026-11-19") as error:
        reader.user("nobody")
    assert isinstance(error.value, InterestsError)
    with pytest.raises(UnknownUserError, match="nobody"):
        reader.recommend("nobody")


def test_a_raw_user_id_is_pseudonymized_with_the_configured_key(pseudonymized):
    root, content, key = pseudonymized
    reader = NightReader(root)
    assert reader.ds == "2026-11-25"
    interests = reader.user("u04", raw=True)
    assert interests.user_id == pseudonymize_user_id("u04", key)
    np.testing.assert_allclose(interests.user.column("embedding")[0].as_py(), content.user_vectors["u04"], atol=1e-6)
    assert [row["subinterest_id"] for row in interests.subinterests.to_pylist()] == [s for s, _ in user_subinterests("u04")]
    with pytest.raises(UnknownUserError, match="--raw-user-id"):
        reader.user("u04")  # the plain id is not what the night stores


def test_topic_tree_lists_every_topic_then_its_subinterests(published):
    root, _ = published
    tree = NightReader(root).topic_tree().to_pylist()
    assert [(row["level"], row["node_id"], row["parent_id"], row["size"]) for row in tree] == [
        row for topic in ("t0", "t1", "t2")
        for row in [("topic", topic, None, 20)] + [("subinterest", f"{topic}.s{k}", topic, 10) for k in range(2)]
    ]
    assert tree[4]["label"] == "football s0" and tree[4]["keywords"] == ["football", "s0"]
    assert tree[4]["medoid_item_id"] == "t1.s0.i0"


# ---------------------------------------------------------------------- similar items


def test_nearest_items_of_an_item_are_its_subinterest(published):
    root, content = published
    reader = NightReader(root)
    vectors = content["2026-11-19"].item_vectors
    for item in ("t0.s0.i3", "t1.s1.i0", "t2.s0.i9"):
        result = reader.similar_items(item_id=item, k=9).to_pylist()
        assert item not in [row["item_id"] for row in result]
        same = [row for row in result if row["subinterest_id"] == item.rsplit(".", 1)[0]]
        assert len(same) >= 8, result
        assert [row["rank"] for row in result] == list(range(1, 10))
        query = as_query(vectors[item])[0]
        for row in result:
            assert row["score"] == pytest.approx(float(query @ vectors[row["item_id"]]), abs=1e-5)
        assert all(a["score"] >= b["score"] for a, b in itertools.pairwise(result))


def test_similar_items_refuses_bad_queries(published):
    root, _ = published
    reader = NightReader(root)
    with pytest.raises(UnknownItemError, match="item 'no-such-item' has no row in item_embeddings of ds=2026-11-19"):
        reader.similar_items(item_id="no-such-item")
    with pytest.raises(ReaderArgumentError, match="exactly one of item_id or text"):
        reader.similar_items(item_id="t0.s0.i0", text="jazz")
    with pytest.raises(ReaderArgumentError, match="exactly one"):
        reader.similar_items()
    with pytest.raises(ReaderArgumentError, match="k must be an int >= 1"):
        reader.similar_items(item_id="t0.s0.i0", k=0)


class _TopicWordEncoder:
    """A stand-in for the text space of the test lake: a text goes to its topic word's axis."""

    model_version = "test-model-v1"
    dim = 8
    words = ("cooking", "football", "jazz")

    def encode(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row, next(i for i, word in enumerate(self.words) if word in text)] = 1.0
        return out


def test_similar_items_of_a_text_searches_the_text_space(published):
    root, _ = published
    result = NightReader(root, encoder=_TopicWordEncoder()).similar_items(text="late night jazz", k=20).to_pylist()
    assert {row["topic_id"] for row in result} == {"t2"}


def test_a_text_query_refuses_an_encoder_of_another_model(published):
    root, _ = published
    from interests.consume import EncoderMismatchError

    other = _TopicWordEncoder()
    other.model_version = "another-model"
    with pytest.raises(EncoderMismatchError, match="'another-model'.*test-model-v1"):
        NightReader(root, encoder=other).similar_items(text="jazz")


# ---------------------------------------------------------------------- recommendations


def test_user_level_recommendations_come_from_the_users_subinterests(published):
    root, content = published
    night = content["2026-11-19"]
    result = NightReader(root).recommend("u00", k=10).to_pylist()
    heavy, light = [s for s, _ in user_subinterests("u00")]
    engaged = {item for s in (heavy, light) for item in item_ids(s)[:3]}
    # 7 not-yet-engaged items of the heavy sub-interest, then the light one's nearest.
    assert [row["subinterest_id"] for row in result] == [heavy] * 7 + [light] * 3
    assert not engaged & {row["item_id"] for row in result}
    query = as_query(night.user_vectors["u00"])[0]
    for row in result:
        assert row["score"] == pytest.approx(float(query @ night.item_vectors[row["item_id"]]), abs=1e-5)
    assert all(row["via_subinterest_id"] is None for row in result)


def test_engaged_items_come_back_when_not_excluded(published):
    root, _ = published
    result = NightReader(root).recommend("u00", k=20, exclude_engaged=False).to_pylist()
    assert {"t0.s0.i0", "t0.s0.i1", "t0.s0.i2"} <= {row["item_id"] for row in result}


def test_items_engaged_earlier_in_the_lookback_window_are_excluded_too(tmp_path):
    """An engagement on a day before the night's ds (inside hierarchy.lookback_days) still excludes the item."""
    import published_lake

    from interests.catalog import EVENTS_CLEAN
    from interests.lake import Lake

    root = tmp_path / "lake"
    published_lake.build_published_lake(root, published=("2026-11-18",), failed=None)
    lake = Lake(root)
    earlier = lake.read(EVENTS_CLEAN, ds="2026-11-18").to_pylist()
    heavy = user_subinterests("u00")[0][0]
    extra = item_ids(heavy)[5]  # not among the items u00 engages with every night
    earlier.append({**earlier[0], "event_id": "earlier-extra", "user_id": "u00", "item_id": extra})
    lake.write_partition(EVENTS_CLEAN, "2026-11-18", pa.Table.from_pylist(earlier, schema=EVENTS_CLEAN.schema))
    published_lake._write_night(lake, "2026-11-19", "published", "r2", 1, shift=1)

    window = NightReader(root).recommend("u00", k=20)
    assert extra not in window.column("item_id").to_pylist()
    one_day = load_config(environ={"INTERESTS_HIERARCHY__LOOKBACK_DAYS": "1"})
    assert extra in NightReader(root, config=one_day).recommend("u00", k=20).column("item_id").to_pylist()


def test_subinterest_level_merges_by_sqrt_weight_times_score(published):
    root, content = published
    night = content["2026-11-19"]
    result = NightReader(root).recommend("u02", k=14, level="subinterest").to_pylist()
    (heavy, heavy_weight), (light, light_weight) = user_subinterests("u02")
    assert [row["via_subinterest_id"] for row in result] == [heavy] * 7 + [light] * 7
    assert [row["subinterest_id"] for row in result] == [heavy] * 7 + [light] * 7
    raw = {}
    for row in result:
        weight = heavy_weight if row["via_subinterest_id"] == heavy else light_weight
        raw[row["item_id"]] = float(as_query(night.subinterest_centroids[row["via_subinterest_id"]])[0]
                                    @ night.item_vectors[row["item_id"]])
        assert row["score"] == pytest.approx(np.sqrt(weight) * raw[row["item_id"]], abs=1e-5)
    # The weight decides: a light-interest item more similar to its own interest than a heavy-interest
    # item is to its own still ranks below it.
    best_light = max((row for row in result if row["via_subinterest_id"] == light), key=lambda row: raw[row["item_id"]])
    worst_heavy = min((row for row in result if row["via_subinterest_id"] == heavy), key=lambda row: raw[row["item_id"]])
    assert raw[best_light["item_id"]] > raw[worst_heavy["item_id"]]
    assert best_light["rank"] > worst_heavy["rank"]


def test_recommend_refuses_an_unknown_level(published):
    root, _ = published
    with pytest.raises(ReaderArgumentError, match="unknown level 'topic'; allowed: \\['user', 'subinterest'\\]"):
        NightReader(root).recommend("u00", level="topic")


def _fresh(items: list[str], event_type: str = "purchase", start: datetime = DAY_END + timedelta(hours=2)) -> list[dict]:
    return [{"item_id": item, "event_type": event_type, "ts": start + timedelta(minutes=n)} for n, item in enumerate(items)]


def test_fresh_events_fold_in_as_the_night_would(published):
    root, content = published
    night = content["2026-11-19"]
    reader = NightReader(root)
    fresh_items = item_ids("t2.s0")[:4]  # u00 likes t0.s0 and t1.s1, never jazz
    fresh = _fresh(fresh_items)
    vector = reader.user_vector("u00", fresh_events=fresh)

    row = reader.user("u00").user.to_pylist()[0]
    weight = load_config().hierarchy.event_weights["purchase"]
    seconds = np.array([event["ts"].timestamp() for event in fresh])
    expected, _ = fold_in(
        np.asarray(row["embedding"]), row["vector_mass"], DAY_END, seconds.max(),
        np.stack([night.item_vectors[item] for item in fresh_items]), np.full(len(fresh), weight), seconds, 7.0,
    )
    np.testing.assert_allclose(vector, as_query(expected)[0], atol=1e-5)
    # By hand, at the end of the night: the stored sum (mass 6) plus each purchase, which is newer than
    # the night's reference and so weighs 2 ** ((its time - the reference) / half-life) next to it.
    by_hand = 6.0 * np.asarray(row["embedding"]) + sum(
        weight * 2.0 ** ((t - DAY_END.timestamp()) / 86_400 / 7.0) * np.asarray(night.item_vectors[item])
        for item, t in zip(fresh_items, seconds)
    )
    by_hand[-1] = 0.0
    np.testing.assert_allclose(vector, _unit(by_hand), atol=1e-5)

    jazz = as_query(night.subinterest_centroids["t2.s0"])[0]
    assert vector @ jazz > 0.5 > abs(reader.user_vector("u00") @ jazz)
    result = reader.recommend("u00", k=10, fresh_events=fresh).to_pylist()
    jazz_items = [row["item_id"] for row in result if row["subinterest_id"] == "t2.s0"]
    assert jazz_items and not set(jazz_items) & set(fresh_items)  # fresh items count as engaged


def test_fresh_events_take_any_ts_form_and_skip_what_the_night_skips(published):
    root, _ = published
    reader = NightReader(root)
    moment = DAY_END + timedelta(hours=3)
    base = reader.user_vector("u01", fresh_events=[{"item_id": "t1.s0.i5", "event_type": "like", "ts": moment}])
    variants = [
        [{"item_id": "t1.s0.i5", "event_type": "LIKE", "ts": moment.isoformat()}],
        [{"item_id": "t1.s0.i5", "event_type": "like", "ts": moment.replace(tzinfo=None)}],  # naive = UTC
        [{"item_id": "t1.s0.i5", "event_type": "like", "ts": int(moment.timestamp() * 1000)}],  # epoch ms
        pa.Table.from_pylist([{"item_id": "t1.s0.i5", "event_type": "like", "ts": moment.isoformat()}]),
    ]
    for events in variants:
        np.testing.assert_allclose(reader.user_vector("u01", fresh_events=events), base, atol=1e-9)
    assert not np.allclose(base, reader.user_vector("u01"), atol=1e-3)
    noise = [
        {"item_id": None, "event_type": "search", "ts": moment},  # no item: not an engagement
        {"item_id": "t2.s1.i1", "event_type": "search", "ts": moment},  # no weight in hierarchy.event_weights
        {"item_id": "not-in-catalog", "event_type": "purchase", "ts": moment},  # the night skips it too
    ]
    np.testing.assert_allclose(reader.user_vector("u01", fresh_events=noise), reader.user_vector("u01"), atol=1e-12)
    import pandas as pd

    frame = pd.DataFrame([{"item_id": "t1.s0.i5", "event_type": "like", "ts": moment}])
    np.testing.assert_allclose(reader.user_vector("u01", fresh_events=frame), base, atol=1e-9)


@pytest.mark.parametrize(("events", "message"), [
    ([{"item_id": "t0.s0.i1", "event_type": "poke", "ts": DAY_END}], "unknown event_type 'poke'"),
    ([{"item_id": "t0.s0.i1", "event_type": "click"}], "fresh event 0 has no ts"),
    ([{"item_id": "t0.s0.i1", "event_type": "click", "ts": "yesterday"}], "ts 'yesterday' is not a datetime"),
    ([("t0.s0.i1", "click", DAY_END)], "fresh event 0 is a tuple"),
    ({"item_id": "t0.s0.i1"}, "fresh_events must be rows"),
])
def test_malformed_fresh_events_are_typed_errors(published, events, message):
    root, _ = published
    with pytest.raises(ReaderArgumentError, match=message):
        NightReader(root).recommend("u00", fresh_events=events)


def test_results_are_arrow_tables_that_become_pandas(published):
    root, _ = published
    frame = NightReader(root).recommend("u00", k=3, level="subinterest").to_pandas()
    assert list(frame.columns) == [
        "rank", "item_id", "score", "topic_id", "topic_label", "subinterest_id", "subinterest_label", "via_subinterest_id",
    ]
    assert len(frame) == 3 and frame["score"].is_monotonic_decreasing


def test_reader_imports_and_reads_without_spark_airflow_or_torch(published):
    root, _ = published
    script = textwrap.dedent(f"""
        import sys
        import interests.consume, interests.consume.commands
        from interests.consume import NightReader
        reader = NightReader({str(root)!r})
        reader.user("u00"); reader.topic_tree(); reader.similar_items(item_id="t0.s0.i0")
        reader.recommend("u00", level="subinterest"); reader.recommend("u01", fresh_events=[
            {{"item_id": "t2.s0.i1", "event_type": "click", "ts": "2026-11-20T01:00:00+00:00"}}])
        print(sorted({{name.split(".")[0] for name in sys.modules}} & {{"pyspark", "airflow", "torch", "mlflow"}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"

