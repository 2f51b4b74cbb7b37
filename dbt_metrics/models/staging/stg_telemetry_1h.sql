{#- Hourly rollups: one row per series and UTC hour, with the series' names from the registry. -#}
select bucket as hour, tenant, equipment, metric, n, min, max, avg, sum, first, last
from {{ source('tds', 'telemetry_1h') }}
