"""Interpreter settings for the writer's two processes, which allocate small objects at a high rate."""

from __future__ import annotations

import gc

# Allocations between young-generation collections (CPython's default is 700).
YOUNG_COLLECTION_EVERY = 50_000


def tune_garbage_collector() -> None:
    """A batch keeps tens of thousands of small objects alive until it commits (deliveries, parsed
    documents, readings). With the default threshold CPython collects the young generation every few
    messages and walks all of them each time: measured, a quarter to a third of the worker's CPU on
    10-point messages. They form no reference cycles, so collecting less often frees the same memory,
    just later; the import-time objects are frozen out of every collection for good."""
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, 10, 10)
