"""The stream writer: MQTT 5 shared subscription -> TimescaleDB, lossless and idempotent.

Deploys and starts alone: nothing in this package may import `tds_platform` or `dagster`.
"""
