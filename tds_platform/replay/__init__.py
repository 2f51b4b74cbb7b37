"""DLQ replay: re-parse dead letters with the current topic templates and adapters, land what now parses.

Plain functions over a database URL (no Dagster import); a dead letter's original bytes are only
ever read, never changed or deleted.
"""
