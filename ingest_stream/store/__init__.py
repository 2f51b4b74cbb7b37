"""Landing parsed messages in PostgreSQL: bulk, idempotent, one transaction per batch.

Shared by the writer's worker process and the platform's DLQ replay; it never parses or acknowledges.
"""

from ingest_stream.store.batch import Batch
from ingest_stream.store.isolation import Isolated, Refusal, write_isolating_refusals
from ingest_stream.store.writer import DryRunStore, Fence, Store, StoreUnavailableError, TelemetryStore, WriteResult

__all__ = ["Batch", "DryRunStore", "Fence", "Isolated", "Refusal", "Store", "StoreUnavailableError",
           "TelemetryStore", "WriteResult", "write_isolating_refusals"]
