{#- Per equipment, metric and UTC hour: the hourly rollup beside the hour's quality figures.
    A full join, so an hour the quality layer saw as empty (coverage 0) is a row too. -#}
{{ config(
    window_column='hour',
    window_grain='hour',
    indexes=[{'columns': ['tenant', 'equipment', 'hour']}, {'columns': ['hour']}],
) }}

with rollup as (
    select hour, tenant, equipment, metric, n, min, max, avg, sum, first, last
    from {{ ref('stg_telemetry_1h') }}
    where {{ in_window('hour') }}
),

quality as (
    select hour, tenant, equipment, metric, expected, received, good, coverage_pct, good_pct,
           gap_count, longest_gap_s
    from {{ ref('stg_quality_hourly') }}
    where {{ in_window('hour') }}
)

-- A full join USING the key yields each key column once, whichever side has the row.
select tenant, e.site, equipment, metric, s.unit, hour,
       coalesce(r.n, 0) as n, r.min, r.max, r.avg, r.sum, r.first, r.last,
       q.expected, q.received, q.good, q.coverage_pct, q.good_pct, q.gap_count, q.longest_gap_s
from rollup r
full join quality q using (hour, tenant, equipment, metric)
join {{ ref('stg_equipment') }} e using (tenant, equipment)
left join {{ ref('stg_metric_spec') }} s using (tenant, equipment, metric)
