"""How good a night's output is: planted-topic recovery (NMI) on generated data, and next-day
retrieval on a time split against baselines computed in the same run."""

from interests.evaluation.topics import read_truth_items, topic_recovery

__all__ = ["read_truth_items", "topic_recovery"]
