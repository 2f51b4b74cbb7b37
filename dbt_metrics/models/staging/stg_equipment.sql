{#- The equipment registry as the marts read it: each equipment's current site and when it was
    first seen. -#}
select tenant, equipment, site, first_seen
from {{ source('tds', 'equipment') }}
