#!/bin/sh
# Broker entrypoint: writes the service accounts from the environment into the password file,
# then runs Mosquitto. Passwords never pass through the repository or the image.
#
# Device accounts live in the same file (the broker-auth volume) and are kept across restarts;
# only tds-ingest and tds-platform are (re)written here.
set -eu
: "${TDS_MQTT_INGEST_PASSWORD:?set it in .env}"
: "${TDS_MQTT_PLATFORM_PASSWORD:?set it in .env}"
config="${TDS_MQTT_CONFIG:-/mosquitto/config/mosquitto.conf}"
passwd="${TDS_MQTT_PASSWD_FILE:-/mosquitto/auth/passwd}"

umask 077
[ -f "$passwd" ] || : > "$passwd"
mosquitto_passwd -b "$passwd" tds-ingest "$TDS_MQTT_INGEST_PASSWORD"
mosquitto_passwd -b "$passwd" tds-platform "$TDS_MQTT_PLATFORM_PASSWORD"
# Mosquitto drops to its own user before it reads the file (and again on every SIGHUP reload).
if [ "$(id -u)" = 0 ]; then
    chown mosquitto:mosquitto "$passwd"
fi
exec mosquitto -c "$config"
