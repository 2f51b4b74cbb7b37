{#- Per equipment, metric and UTC day: the daily rollup beside the day's quality figures, which
    apply DESIGN.md's window formulas to the day (coverage = 100 * min(received / expected, 1),
    good% = 100 * good / received) over the summed hourly counts. -#}
{{ config(
    window_column='day',
    window_grain='day',
    indexes=[{'columns': ['tenant', 'equipment', 'day']}, {'columns': ['day']}],
) }}

with rollup as (
    select {{ utc_day('bucket') }} as day, tenant, equipment, metric, n, min, max, avg, sum, first, last
    from {{ source('tds', 'telemetry_1d') }}
    where {{ in_window('bucket', 'day') }}
),

quality as (
    select {{ utc_day('hour') }} as day, tenant, equipment, metric,
           sum(expected) as expected, sum(received)::bigint as received, sum(good)::bigint as good
    from {{ source('tds', 'quality_hourly') }}
    where {{ in_window('hour', 'day') }}
    group by 1, 2, 3, 4
),

days as (
    select coalesce(r.day, q.day) as day,
           coalesce(r.tenant, q.tenant) as tenant,
           coalesce(r.equipment, q.equipment) as equipment,
           coalesce(r.metric, q.metric) as metric,
           coalesce(r.n, 0) as n, r.min, r.max, r.avg, r.sum, r.first, r.last,
           q.expected, q.received, q.good
    from rollup r
    full join quality q
           on q.tenant = r.tenant and q.equipment = r.equipment and q.metric = r.metric and q.day = r.day
)

select d.tenant, e.site, d.equipment, d.metric, s.unit, d.day,
       d.n, d.min, d.max, d.avg, d.sum, d.first, d.last,
       d.expected, d.received, d.good,
       {{ coverage_pct('d.received', 'd.expected') }} as coverage_pct,
       {{ good_pct('d.good', 'd.received') }} as good_pct
from days d
join {{ source('tds', 'equipment') }} e on e.tenant = d.tenant and e.equipment = d.equipment
left join {{ source('tds', 'metric_spec') }} s
       on s.tenant = d.tenant and s.equipment = d.equipment and s.metric = d.metric
