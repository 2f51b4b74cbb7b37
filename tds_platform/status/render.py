"""Renders a PlatformStatus as one terminal screen; pure text, no I/O."""

from __future__ import annotations

from tds_platform.status.collect import PlatformStatus


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:.0f}s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.1f}h ago"


def render(status: PlatformStatus) -> str:
    lines: list[str] = []
    broker = status.broker
    broker_state = "up" if broker.get("reachable") else f"DOWN: {broker.get('error')}"
    lines.append(f"broker     {broker.get('address')}  {broker_state}")
    db = status.database
    if db.get("reachable"):
        behind = ("" if db.get("revision") == db.get("head")
                  else f"  (behind: head is {db.get('head')}; run `tds db upgrade`)")
        lines.append(f"database   up  edition={db.get('edition')}  revision={db.get('revision')}{behind}")
        if db.get("error"):
            lines.append(f"           query failed: {db['error']}")
    else:
        lines.append(f"database   DOWN: {db.get('error')}")
    lines.append("")
    lines.append("writers")
    if not status.writers:
        lines.append("  none registered (is `tds-ingest run` started with a group?)")
    for w in status.writers:
        health = w.health or {}
        state = health.get("status", "unreachable") if w.state == "running" else w.state
        detail = (f"queue={health.get('queue_depth')}  last commit {_age(health.get('seconds_since_commit'))}"
                  if health else (w.health_error or ""))
        drained = f"  drained by {w.drained_by}" if w.drained_by else ""
        lines.append(f"  {w.group}/{w.instance:<22} {state:<10} heartbeat {_age(w.heartbeat_age_s)}  {detail}{drained}")
    lines.append("")
    lines.append("newest reading per tenant")
    if not status.tenants:
        lines.append("  no data yet")
    for t in status.tenants:
        lines.append(f"  {t['tenant']:<20} {t['equipment']:>4} equipment   newest {_age(t['age_s'])}")
    lines.append("")
    lines.append(f"open alerts: {len(status.open_alerts)}")
    for a in status.open_alerts[:10]:
        lines.append(f"  [{a['severity']}] {a['kind']}: {a['subject']} (since {a['opened_at']:%Y-%m-%d %H:%M})")
    dlq = status.dlq
    if dlq:
        reasons = ", ".join(f"{k} {v}" for k, v in dlq.get("reasons_last_day", {}).items()) or "none"
        lines.append(f"dead letters: {dlq.get('last_hour')} last hour, {dlq.get('last_day')} last day, "
                     f"{dlq.get('pending')} not replayed  (last day by reason: {reasons})")
    quality = status.quality
    if quality:
        when = quality.get("last_computed_at")
        newest = quality.get("newest_hour")
        lines.append(f"last quality run: {when:%Y-%m-%d %H:%M:%S} (newest hour {newest:%Y-%m-%d %H:00})"
                     if when else "last quality run: never")
    return "\n".join(lines)
