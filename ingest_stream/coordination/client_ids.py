"""The writer's MQTT client ids: stable per instance across restarts, and unguessable from outside.

A client id is the key to a broker session and its queue: whoever connects with it takes the session
over. A device account that connected with the predictable `tds-ingest-<group>-<instance>` emptied an
offline writer's queue, or kicked a live writer off. So an id ends in a MAC of (group, instance) under
the random key in tds.ingest_identity, which only the platform's own database logins can read. The
broker binds client ids to accounts as well (deploy/mosquitto): this is the second lock, not the only one.
It never appears on the unauthenticated health endpoint; survivors read dead members' ids from
tds.ingest_members.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import psycopg

from ingest_stream.settings import Coordination, IngestSettings

SELECT_KEY = "SELECT client_id_key FROM tds.ingest_identity"
_MAC_HEX_DIGITS = 16


def load_key(database_url: str, connect_timeout_s: int = 5) -> str:
    """The installation's client-id key; psycopg.Error when the database cannot say."""
    with psycopg.connect(database_url, autocommit=True, connect_timeout=connect_timeout_s) as conn:
        row = conn.execute(SELECT_KEY).fetchone()
    if row is None:
        raise psycopg.DataError("tds.ingest_identity has no key; run `tds db upgrade`")
    return str(row[0])


def writer_client_id(settings: IngestSettings, key: str) -> str:
    """This instance's client id. In lease mode every instance uses the same one: the session (and its
    queue) belongs to the role, and whoever holds the lease drains it. A dry run never joins the group
    and leaves no session behind, so its id is random and needs no key."""
    scope = settings.mqtt_group or "solo"
    role = "leader" if settings.effective_coordination is Coordination.LEASE else settings.instance_id
    if settings.dry_run:
        return f"tds-ingest-{scope}-{role}-dryrun-{secrets.token_hex(8)}"
    mac = hmac.new(key.encode(), f"{scope}/{role}".encode(), hashlib.sha256).hexdigest()[:_MAC_HEX_DIGITS]
    return f"tds-ingest-{scope}-{role}-{mac}"
