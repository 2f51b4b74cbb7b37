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


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{float(value):.1f}%"


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
    lines.append("data health per tenant (coverage and good % over the last 24 h)")
    if not status.tenants:
        lines.append("  no data yet")
    for t in status.tenants:
        worst = (f"worst {t['worst_equipment']} ({_pct(t['worst_coverage_pct'])})" if t.get("worst_equipment")
                 else "worst -")
        lines.append(f"  {t['tenant']:<12} {t['equipment']:>4} equipment  newest {_age(t['age_s']):<9}  "
                     f"coverage {_pct(t.get('coverage_pct')):>6}  good {_pct(t.get('good_pct')):>6}  {worst}  "
                     f"open gaps {t.get('open_gaps', 0)}  open alerts {t.get('open_alerts', 0)}")
    lines.append("")
    lines.append(f"open gaps: {sum(t.get('open_gaps', 0) for t in status.tenants)}")
    for g in status.open_gaps[:10]:
        lines.append(f"  {g['tenant']}/{g['equipment']}/{g['metric']}  silent since {g['gap_start']:%Y-%m-%d %H:%M}"
                     f" ({_age(g['open_for_s']).removesuffix(' ago')})  backfill {g['backfill_status']}")
    lines.append("")
    lines.append(f"open alerts: {len(status.open_alerts)}")
    for a in status.open_alerts[:10]:
        updated = f", updated {a['revision']}x" if a.get("revision") else ""
        lines.append(f"  [{a['severity']}] {a['kind']}: {a['subject']} (since {a['opened_at']:%Y-%m-%d %H:%M}"
                     f"{updated})")
    for d in status.alert_delivery:
        waiting = (f"{d['pending']} waiting (oldest since {d['oldest_pending']:%H:%M:%S}), "
                   f"last error: {d['last_error']}" if d["pending"] else "none waiting")
        lines.append(f"alert delivery {d['sink']:<8} {d['delivered']} delivered, {waiting}, "
                     f"{d['failed_attempts'] or 0} failed attempts")
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
