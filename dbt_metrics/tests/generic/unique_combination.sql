{#- One row per combination of `columns` (the mart's grain). NULLs group together, as they should
    for an equipment without a site. -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as rows_per_key
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
