{#- Per equipment, metric and UTC hour: the hourly rollup beside the hour's quality figures.
    A full join, so an hour the quality layer saw as empty (coverage 0) is a row too. -#}
{{ config(
    window_column='hour',
    window_grain='hour',
    indexes=[{'columns': ['tenant', 'equipment', 'hour']}, {'columns': ['hour']}],
) }}

with rollup as (
    select bucket as hour, tenant, equipment, metric, n, min, max, avg, sum, first, last
    from {{ source('tds', 'telemetry_1h') }}
    where {{ in_window('bucket') }}
),

quality as (
    select hour, tenant, equipment, metric, expected, received, good, coverage_pct, good_pct,
           gap_count, longest_gap_s
    from {{ source('tds', 'quality_hourly') }}
    where {{ in_window('hour') }}
),

hours as (
    select coalesce(r.hour, q.hour) as hour,
           coalesce(r.tenant, q.tenant) as tenant,
           coalesce(r.equipment, q.equipment) as equipment,
           coalesce(r.metric, q.metric) as metric,
           coalesce(r.n, 0) as n, r.min, r.max, r.avg, r.sum, r.first, r.last,
           q.expected, q.received, q.good, q.coverage_pct, q.good_pct, q.gap_count, q.longest_gap_s
    from rollup r
    full join quality q
           on q.tenant = r.tenant and q.equipment = r.equipment and q.metric = r.metric and q.hour = r.hour
)

select h.tenant, e.site, h.equipment, h.metric, s.unit, h.hour,
       h.n, h.min, h.max, h.avg, h.sum, h.first, h.last,
       h.expected, h.received, h.good, h.coverage_pct, h.good_pct, h.gap_count, h.longest_gap_s
from hours h
join {{ source('tds', 'equipment') }} e on e.tenant = h.tenant and e.equipment = h.equipment
left join {{ source('tds', 'metric_spec') }} s
       on s.tenant = h.tenant and s.equipment = h.equipment and s.metric = h.metric
