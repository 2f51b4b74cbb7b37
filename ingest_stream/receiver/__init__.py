"""The writer's main process: receives from the broker and acknowledges what the worker committed.

MQTT sessions (its own, and dead members' it drains), the ack ledger, the link to the worker process,
health and metrics over HTTP. It never parses or writes a reading, and never imports `worker`: what it
says to the worker and hears back is declared in `ingest_stream.handoff`.
"""
