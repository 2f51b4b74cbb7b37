"""The writer's worker process: parses what the receiver sent, batches it, commits it and reports each commit.

It never talks to the broker, so it can never acknowledge anything; it never imports `receiver`, nor a
metric or health state: what it hears and reports is declared in `ingest_stream.handoff`.
"""
