{#- The series registry as the marts read it: each metric's unit and when it was first seen. -#}
select tenant, equipment, metric, unit, first_seen
from {{ source('tds', 'metric_spec') }}
