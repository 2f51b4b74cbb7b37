#!/bin/sh
# Broker entrypoint: writes the service accounts from the environment and the device ACL from the
# device accounts, then runs Mosquitto. Passwords never pass through the repository or the image.
#
# Device accounts live in the broker-auth volume (devices, managed with device-account) and are kept
# across restarts; the service accounts (services) are rewritten here on every start.
set -eu
: "${TDS_MQTT_INGEST_PASSWORD:?set it in .env}"
: "${TDS_MQTT_PLATFORM_PASSWORD:?set it in .env}"
config="${TDS_MQTT_CONFIG:-/mosquitto/config/mosquitto.conf}"
TDS_MQTT_AUTH_DIR="${TDS_MQTT_AUTH_DIR:-/mosquitto/auth}"
export TDS_MQTT_AUTH_DIR
auth="$TDS_MQTT_AUTH_DIR"

umask 077
# Before the listeners were split, devices and services shared one password file: carry the devices over.
if [ -f "$auth/passwd" ] && [ ! -f "$auth/devices" ]; then
    grep -v -e '^tds-ingest:' -e '^tds-platform:' "$auth/passwd" > "$auth/devices" || :
fi
: > "$auth/services"
mosquitto_passwd -b "$auth/services" tds-ingest "$TDS_MQTT_INGEST_PASSWORD"
mosquitto_passwd -b "$auth/services" tds-platform "$TDS_MQTT_PLATFORM_PASSWORD"
[ -f "$auth/devices" ] || : > "$auth/devices"
sh "$(dirname "$0")/device-account" acl
# Mosquitto drops to its own user before it reads the files (and again on every SIGHUP reload).
if [ "$(id -u)" = 0 ]; then
    chown mosquitto:mosquitto "$auth/services" "$auth/devices"
fi
exec mosquitto -c "$config"
