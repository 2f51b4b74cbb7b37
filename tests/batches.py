"""Writer batches made of readings, and the writer's store to land them with, for tests that land
readings through the writer's own store (`TelemetryStore.write`) rather than through MQTT: the same
rows, registry and stale-window records as a message would give."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from ingest_stream.handoff import Received
from ingest_stream.records import Parsed, Quality, Reading
from ingest_stream.store import Batch, TelemetryStore
from tests.servers import as_login


def good_reading(tenant: str, site: str, equipment: str, metric: str, ts: datetime, value: float = 1.0) -> Reading:
    return Reading(tenant, site, equipment, metric, ts, value, None, None, Quality.GOOD)


def batch_of(*messages: Sequence[Reading]) -> Batch[Received]:
    """One received message per sequence of readings (all of one equipment), on its telemetry topic."""
    received = [Received(seq, f"tds/{m[0].tenant}/{m[0].site}/{m[0].equipment}/telem", b"{}", time.time())
                for seq, m in enumerate(messages)]
    return Batch(received, [Parsed(readings=tuple(m)) for m in messages])


@contextmanager
def writer_store(url: str, instance_id: str = "test") -> Iterator[TelemetryStore]:
    """The writer's store under the writer's own login (as production runs it), closed afterwards."""
    store = TelemetryStore(as_login(url, "tds_ingest"), instance_id)
    try:
        yield store
    finally:
        store.close()
