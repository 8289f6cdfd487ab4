"""How well a night recovered the planted truth of synthetic data (NMI of item assignments)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def topic_recovery(item_embeddings: pa.Table, truth_items: pa.Table) -> dict[str, float]:
    """NMI between planted and found topics and sub-interests, over the items both know."""
    from sklearn.metrics import normalized_mutual_info_score

    found = item_embeddings.select(["item_id", "topic_id", "subinterest_id"])
    joined = found.join(truth_items.select(["item_id", "topic", "subinterest"]), keys="item_id", join_type="inner")
    if joined.num_rows == 0:
        raise ValueError("no item of the table is in the planted truth")
    return {
        "items": float(joined.num_rows),
        "topic_nmi": float(normalized_mutual_info_score(joined["topic"].to_pylist(), joined["topic_id"].to_pylist())),
        "subinterest_nmi": float(
            normalized_mutual_info_score(joined["subinterest"].to_pylist(), joined["subinterest_id"].to_pylist())
        ),
    }


def read_truth_items(truth_root: Path) -> pa.Table:
    """The generator's planted item -> topic / sub-interest table."""
    return pq.read_table(Path(truth_root) / "items.parquet")
