"""The writer's MQTT client ids, without a network or a database: stable per instance, unguessable without the key."""

from __future__ import annotations

from ingest_stream.coordination.client_ids import writer_client_id
from ingest_stream.settings import IngestSettings


def test_client_ids_are_stable_per_instance_and_unguessable_without_the_key() -> None:
    """`tds-ingest-<group>-<instance>` was all it took to take a writer's session."""
    key, other_key = "0f" * 16, "a1" * 16
    solo, shared = IngestSettings(instance_id="a"), IngestSettings(instance_id="a", mqtt_group="g")
    assert writer_client_id(solo, key).startswith("tds-ingest-solo-a-")
    assert writer_client_id(shared, key).startswith("tds-ingest-g-a-")
    assert writer_client_id(shared, key) == writer_client_id(IngestSettings(instance_id="a", mqtt_group="g"), key)
    assert writer_client_id(shared, key) != writer_client_id(shared, other_key), "the key decides, not the names"
    assert writer_client_id(shared, key) != writer_client_id(IngestSettings(instance_id="b", mqtt_group="g"), key)
    assert len(writer_client_id(shared, key).rsplit("-", 1)[1]) == 16
    leaders = [IngestSettings(instance_id=i, mqtt_group="g", coordination="lease") for i in ("a", "b")]
    assert len({writer_client_id(s, key) for s in leaders}) == 1, "lease candidates share the role's session"
    dry = IngestSettings(instance_id="a", mqtt_group="g", dry_run=True)
    assert writer_client_id(dry, key) != writer_client_id(dry, key), "a dry run leaves no session to come back to"
