#!/bin/sh
# Alertmanager's entrypoint: writes its configuration from TDS_ALERT_* (render-config.sh), then runs it.
set -eu
config="${TDS_ALERTMANAGER_CONFIG:-/alertmanager/alertmanager.yml}"
umask 077
sh "$(dirname "$0")/render-config.sh" > "$config"
exec /bin/alertmanager --config.file="$config" --storage.path=/alertmanager "$@"
