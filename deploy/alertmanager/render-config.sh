#!/bin/sh
# Prints Alertmanager's configuration built from the TDS_ALERT_* settings in the environment (.env),
# the same ones Dagster's alerts use: one place points every alert of the platform at the team.
# Alertmanager cannot read the environment itself, and the webhook URL and SMTP password are
# secrets, so they are written at start into the container's own volume, never into the repo.
#
# TDS_ALERT_WEBHOOK_URL                  Slack incoming webhook (or any Slack-compatible receiver)
# TDS_ALERT_SMTP_HOST / _PORT            mail server (port 25 unless set)
# TDS_ALERT_SMTP_USER / _PASSWORD        its login, if it needs one
# TDS_ALERT_SMTP_STARTTLS                true/false (false unless set)
# TDS_ALERT_EMAIL_FROM / TDS_ALERT_EMAIL_TO   sender, comma-separated recipients
# Neither configured: alerts are kept and shown in Alertmanager's UI only.
set -eu

# A YAML single-quoted scalar: nothing inside is special except the quote, which doubles.
quoted() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"; }

webhook="${TDS_ALERT_WEBHOOK_URL:-}"
smtp_host="${TDS_ALERT_SMTP_HOST:-}"
email_to="${TDS_ALERT_EMAIL_TO:-}"
case "${TDS_ALERT_SMTP_STARTTLS:-false}" in
    true|True|TRUE|1|yes) require_tls=true ;;
    *) require_tls=false ;;
esac

echo "# Written by render-config.sh at container start from TDS_ALERT_*; do not edit."
echo "global:"
echo "  resolve_timeout: 5m"
if [ -n "$smtp_host" ] && [ -n "$email_to" ]; then
    echo "  smtp_smarthost: $(quoted "$smtp_host:${TDS_ALERT_SMTP_PORT:-25}")"
    echo "  smtp_from: $(quoted "${TDS_ALERT_EMAIL_FROM:-tds-alerts@localhost}")"
    echo "  smtp_require_tls: $require_tls"
    if [ -n "${TDS_ALERT_SMTP_USER:-}" ]; then
        echo "  smtp_auth_username: $(quoted "$TDS_ALERT_SMTP_USER")"
        echo "  smtp_auth_password: $(quoted "${TDS_ALERT_SMTP_PASSWORD:-}")"
    fi
fi
cat <<'ROUTE'
# One receiver, the team's. Alerts of one rule and writer are grouped; a firing group is repeated
# every 4 h until resolved, and its resolution is sent too.
route:
  receiver: team
  group_by: [alertname, instance]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: team
ROUTE
if [ -n "$webhook" ]; then
    cat <<SLACK
    slack_configs:
      - api_url: $(quoted "$webhook")
        send_resolved: true
        title: '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.severity }})'
        text: '{{ range .Alerts }}{{ .Annotations.summary }} Runbook: {{ .Annotations.runbook }}{{ "\n" }}{{ end }}'
SLACK
fi
if [ -n "$smtp_host" ] && [ -n "$email_to" ]; then
    cat <<MAIL
    email_configs:
      - to: $(quoted "$email_to")
        send_resolved: true
MAIL
fi
