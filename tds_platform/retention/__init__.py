"""Retention: how long each table keeps its rows, and removing the rest (drop_chunks or batched deletes).

Nothing here imports Dagster; it only ever removes rows older than the clock minus the policy.
"""
