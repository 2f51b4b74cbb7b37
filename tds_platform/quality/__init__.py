"""Data-quality logic over the landed readings: coverage, good-percentage, gaps, rollup expectations.

Pure SQL/pandas and plain functions taking a connection; nothing here imports Dagster, so the
numbers can be computed and tested without an orchestrator.
"""
