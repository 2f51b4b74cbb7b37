"""The stream writer: MQTT 5 shared subscription -> TimescaleDB, lossless and idempotent.

Two processes, two folders: `receiver/` (the main process: MQTT sessions, acks, health, metrics) and
`worker/` (its child: parse, batch, commit), which speak only the protocol declared in `handoff.py`.
Beside them, what both use: `parsing/` (pure), `store/` (the database writes, shared with the
platform's DLQ replay), `coordination/` (what instances agree on in the database), `broker.py`
(reaching the broker, shared with the platform), `settings.py`, `records.py`, `logs.py`, `runtime.py`.
Deploys and starts alone: nothing in this package may import `tds_platform` or the platform extra.
"""
