"""The writer's SQL, as named constants with bound parameters (arrays for set-based upserts).

Nothing here may delete or update readings: landing is insert-only and idempotent.
"""

STAGING = """
CREATE TEMP TABLE IF NOT EXISTS ingest_staging (
    series_id integer, ts timestamptz, value double precision, value_text text, quality smallint
) ON COMMIT DELETE ROWS
"""

SET_IDLE_IN_TRANSACTION_TIMEOUT = "SELECT set_config('idle_in_transaction_session_timeout', %s, false)"

COPY_STAGING = "COPY ingest_staging (series_id, ts, value, value_text, quality) FROM STDIN (FORMAT BINARY)"

# The fast way in when nothing in the batch is there yet: one COPY, no staging. A duplicate makes
# it fail (unique violation), and the batch then lands through staging below.
COPY_READINGS = "COPY tds.telemetry_raw (series_id, ts, value, value_text, quality) FROM STDIN (FORMAT BINARY)"

# Duplicates inside one batch and redeliveries across batches both end here as "do nothing".
LAND_READINGS = """
INSERT INTO tds.telemetry_raw (series_id, ts, value, value_text, quality)
SELECT series_id, ts, value, value_text, quality FROM ingest_staging
ON CONFLICT (series_id, ts) DO NOTHING
"""

# The registry inserts only what is not there: every row an INSERT proposes consumes a series_id
# (identity) value, even one ON CONFLICT then drops. ON CONFLICT DO NOTHING only settles a race with
# another writer registering the same series at the same moment.
SELECT_EQUIPMENT = """
SELECT e.tenant, e.equipment, e.site
FROM tds.equipment e
JOIN unnest(%s::text[], %s::text[]) AS k(tenant, equipment) ON e.tenant = k.tenant AND e.equipment = k.equipment
"""

SELECT_SERIES = """
SELECT s.tenant, s.equipment, s.metric, s.series_id, s.unit
FROM tds.metric_spec s
JOIN unnest(%s::text[], %s::text[], %s::text[]) AS k(tenant, equipment, metric)
  ON s.tenant = k.tenant AND s.equipment = k.equipment AND s.metric = k.metric
"""

INSERT_EQUIPMENT = """
INSERT INTO tds.equipment (tenant, equipment, site)
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[])
ON CONFLICT (tenant, equipment) DO NOTHING
"""

INSERT_SERIES = """
INSERT INTO tds.metric_spec (tenant, equipment, metric, unit)
SELECT k.tenant, k.equipment, k.metric, k.unit
FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) AS k(tenant, equipment, metric, unit)
WHERE NOT EXISTS (SELECT FROM tds.metric_spec s
                  WHERE s.tenant = k.tenant AND s.equipment = k.equipment AND s.metric = k.metric)
ON CONFLICT (tenant, equipment, metric) DO NOTHING
RETURNING tenant, equipment, metric, series_id
"""

# A unit learned later fills a NULL; one on record is never overwritten.
FILL_UNITS = """
UPDATE tds.metric_spec s SET unit = k.unit
FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) AS k(tenant, equipment, metric, unit)
WHERE s.tenant = k.tenant AND s.equipment = k.equipment AND s.metric = k.metric AND s.unit IS NULL
"""

# The site an equipment reports from now; its series stay as they are.
MOVE_EQUIPMENT = """
UPDATE tds.equipment e SET site = k.site
FROM unnest(%s::text[], %s::text[], %s::text[]) AS k(tenant, equipment, site)
WHERE e.tenant = k.tenant AND e.equipment = k.equipment AND e.site IS DISTINCT FROM k.site
"""

# What each tenant registered in the last hour, for the quotas (first_seen defaults to now()).
REGISTERED_LAST_HOUR = """
SELECT t.tenant,
       (SELECT count(*) FROM tds.equipment e
        WHERE e.tenant = t.tenant AND e.first_seen > now() - interval '1 hour'),
       (SELECT count(*) FROM tds.metric_spec s
        WHERE s.tenant = t.tenant AND s.first_seen > now() - interval '1 hour')
FROM unnest(%s::text[]) AS t(tenant)
"""

# A monotonic max, outside the batch transaction so two writers never queue on these rows.
ADVANCE_LAST_SEEN = """
UPDATE tds.equipment e SET last_seen = LEAST(k.ts, now())
FROM unnest(%s::text[], %s::text[], %s::timestamptz[]) AS k(tenant, equipment, ts)
WHERE e.tenant = k.tenant AND e.equipment = k.equipment
  AND (e.last_seen IS NULL OR e.last_seen < LEAST(k.ts, now()))
"""

INSERT_EVENT = """
INSERT INTO tds.events (ts, tenant, site, equipment, type, severity, data)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (tenant, equipment, type, ts) DO NOTHING
"""

# An ack seen twice is one row; a later status (accepted -> done) replaces an earlier one.
UPSERT_ACK = """
INSERT INTO tds.cmd_ack (tenant, equipment, cmd_id, status, detail, ts)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (tenant, equipment, cmd_id) DO UPDATE
SET status = EXCLUDED.status, detail = EXCLUDED.detail, ts = EXCLUDED.ts, received_at = now()
WHERE EXCLUDED.ts >= tds.cmd_ack.ts
"""

# Hours a batch landed readings in after the refreshes stopped rewriting them. Appended, not upserted:
# during a backlog of old readings both write connections would update the same (tenant, hour) row, each
# waiting for the other's commit; the sensor reads the distinct hours and deletes the rows it read.
RECORD_STALE_WINDOWS = """
INSERT INTO tds.stale_windows (tenant, bucket) SELECT * FROM unnest(%s::text[], %s::timestamptz[])
"""

# A redelivered bad message is the row written at its first delivery (DeadLetter.key).
INSERT_DEAD_LETTER = """
INSERT INTO tds.dlq (topic, payload, reason, detail, instance, message_key) VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (message_key) DO NOTHING
"""

NEWEST_READING_AGE = "SELECT extract(epoch FROM now() - max(last_seen)) FROM tds.equipment"
