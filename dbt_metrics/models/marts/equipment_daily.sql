{#- Per equipment, metric and UTC day: the daily rollup beside the day's quality figures, which
    apply the platform's window formulas to the day (coverage = 100 * min(received / expected, 1),
    good% = 100 * good / received) over the summed hourly counts. -#}
{{ config(
    window_column='day',
    window_grain='day',
    indexes=[{'columns': ['tenant', 'equipment', 'day']}, {'columns': ['day']}],
) }}

with rollup as (
    select day, tenant, equipment, metric, n, min, max, avg, sum, first, last
    from {{ ref('stg_telemetry_1d') }}
    where {{ in_window('bucket', 'day') }}
),

quality as (
    select day, tenant, equipment, metric,
           sum(expected) as expected, sum(received)::bigint as received, sum(good)::bigint as good
    from {{ ref('stg_quality_hourly') }}
    where {{ in_window('hour', 'day') }}
    group by day, tenant, equipment, metric
)

-- A full join USING the key yields each key column once, whichever side has the row.
select tenant, e.site, equipment, metric, s.unit, day,
       coalesce(r.n, 0) as n, r.min, r.max, r.avg, r.sum, r.first, r.last,
       q.expected, q.received, q.good,
       {{ coverage_pct('q.received', 'q.expected') }} as coverage_pct,
       {{ good_pct('q.good', 'q.received') }} as good_pct
from rollup r
full join quality q using (day, tenant, equipment, metric)
join {{ ref('stg_equipment') }} e using (tenant, equipment)
left join {{ ref('stg_metric_spec') }} s using (tenant, equipment, metric)
