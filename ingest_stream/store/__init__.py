"""Landing parsed messages in PostgreSQL: bulk, idempotent, one transaction per batch."""

from ingest_stream.store.writer import DryRunStore, Fence, Store, StoreUnavailableError, TelemetryStore, WriteResult

__all__ = ["DryRunStore", "Fence", "Store", "StoreUnavailableError", "TelemetryStore", "WriteResult"]
