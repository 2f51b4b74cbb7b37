{#- Per equipment and UTC day: how long it was silent. From the gaps that still stand (stg_gaps),
    clipped to the part of the day the equipment existed (first_seen) and that has passed (now):
    - gap_minutes: at least one of its metrics was in a gap (overlapping gaps counted once);
    - silent_minutes: all of its metrics were in a gap at once, i.e. the equipment said nothing;
    - uptime_pct: the share of the observed time it was not silent. -#}
{{ config(
    window_column='day',
    window_grain='day',
    indexes=[{'columns': ['tenant', 'equipment', 'day']}, {'columns': ['day']}],
) }}

with equipment_days as (
    select e.tenant, e.site, e.equipment, d::date as day,
           tstzrange(greatest(d at time zone 'UTC', e.first_seen),
                     least((d + interval '1 day') at time zone 'UTC', now())) as observed
    from {{ ref('stg_equipment') }} e
    cross join lateral generate_series(
        ({{ utc_day('greatest(e.first_seen, ' ~ window_start('day') ~ ')') }})::timestamp,
        ({{ utc_day("least(now(), " ~ window_end('day') ~ " - interval '1 microsecond')") }})::timestamp,
        interval '1 day'
    ) as d
),

gaps as (
    select tenant, equipment, metric, silence
    from {{ ref('stg_gaps') }}
    where gap_start < {{ window_end('day') }}
      and coalesce(gap_end, 'infinity') > {{ window_start('day') }}
),

metric_silences as (
    select tenant, equipment, metric, range_agg(silence) as silent
    from gaps
    group by tenant, equipment, metric
),

-- Every metric registered by the end of the day takes part, silent or not: a metric without
-- gaps keeps the equipment up.
metric_days as (
    select d.tenant, d.equipment, d.day, d.observed,
           coalesce(s.silent, '{}'::tstzmultirange) * tstzmultirange(d.observed) as silent
    from equipment_days d
    join {{ ref('stg_metric_spec') }} m
      on m.tenant = d.tenant and m.equipment = d.equipment and m.first_seen < upper(d.observed)
    left join metric_silences s
      on s.tenant = m.tenant and s.equipment = m.equipment and s.metric = m.metric
),

equipment_silences as (
    select tenant, equipment, day,
           range_agg(silent) as any_metric_silent,
           range_intersect_agg(silent) as all_metrics_silent
    from metric_days
    group by tenant, equipment, day
),

gap_counts as (
    select d.tenant, d.equipment, d.day, count(*) as gap_count
    from equipment_days d
    join gaps g on g.tenant = d.tenant and g.equipment = d.equipment and g.silence && d.observed
    group by d.tenant, d.equipment, d.day
),

minutes as (
    select d.tenant, d.site, d.equipment, d.day,
           {{ range_minutes('tstzmultirange(d.observed)') }} as observed_minutes,
           {{ range_minutes('s.any_metric_silent') }} as gap_minutes,
           {{ range_minutes('s.all_metrics_silent') }} as silent_minutes,
           coalesce(c.gap_count, 0) as gap_count
    from equipment_days d
    join equipment_silences s on s.tenant = d.tenant and s.equipment = d.equipment and s.day = d.day
    left join gap_counts c on c.tenant = d.tenant and c.equipment = d.equipment and c.day = d.day
)

select tenant, site, equipment, day, observed_minutes, gap_minutes, silent_minutes,
       case when observed_minutes > 0
            -- 100 * (1 - silent / observed), not 100 * (observed - silent) / observed: with silent = 0 the
            -- latter rounds to 100.00000000000001 for some observed times (3.3494 minutes, seen on an
            -- equipment first seen minutes before the build) and fails the mart's own range test.
            then 100.0 * (1 - silent_minutes / observed_minutes) end as uptime_pct,
       gap_count
from minutes
