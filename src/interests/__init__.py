"""Nightly multi-granularity user-interest embeddings."""

__version__ = "0.1.0"
