"""The landing tables the stream writer fills (readings, dead letters), as the platform looks at them.

Nothing here writes readings or dead letters, and nothing imports Dagster; only the late hours the writer
recorded for a refresh are deleted once reported (`late.py`).
"""
