{#- Every (tenant, equipment) of a mart exists in the registry: marts never invent equipment. -#}
{% test registered_equipment(model) %}
select m.tenant, m.equipment
from {{ model }} m
left join {{ ref('stg_equipment') }} e
       on e.tenant = m.tenant and e.equipment = m.equipment
where e.equipment is null
{% endtest %}
