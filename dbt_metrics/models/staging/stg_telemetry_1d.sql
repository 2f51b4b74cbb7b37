{#- Daily rollups: one row per series and UTC day. `bucket` stays beside `day` so a mart filters its
    window on the indexed column. -#}
select bucket, {{ utc_day('bucket') }} as day, tenant, equipment, metric, n, min, max, avg, sum, first, last
from {{ source('tds', 'telemetry_1d') }}
