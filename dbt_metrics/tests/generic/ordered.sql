{#- Values never decrease along `columns` (e.g. min <= avg <= max), allowing for floating-point
    rounding: an average of equal readings may differ from them in the last bits. -#}
{% test ordered(model, columns) %}
select *
from {{ model }}
where false
{%- for i in range(columns | length - 1) %}
   or {{ columns[i] }} > {{ columns[i + 1] }} + 1e-9 * greatest(1, abs({{ columns[i + 1] }}))
{%- endfor %}
{% endtest %}
