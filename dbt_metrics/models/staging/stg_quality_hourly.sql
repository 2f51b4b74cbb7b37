{#- The quality figures per series and UTC hour, with the UTC day the hour belongs to. -#}
select hour, {{ utc_day('hour') }} as day, tenant, equipment, metric, expected, received, good,
       coverage_pct, good_pct, gap_count, longest_gap_s
from {{ source('tds', 'quality_hourly') }}
