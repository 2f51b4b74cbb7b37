"""The landing tables the stream writer fills (readings, dead letters), as the platform looks at them.

Read-only: nothing here writes to a landing table, and nothing imports Dagster.
"""
