#!/bin/sh
# Entrypoint of the project image: gives every container a stable instance id, then runs the command.
# `docker compose up --scale ingest=N` starts N identical writers; each needs its own MQTT session
# id that survives a restart of the container, and the container hostname is exactly that.
set -eu
export TDS_INSTANCE_ID="${TDS_INSTANCE_ID:-$(hostname)}"
exec "$@"
