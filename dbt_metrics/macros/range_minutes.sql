{#- Total length in minutes of a tstzmultirange (0 for empty or NULL), as double precision like
    every other figure of the marts. -#}
{% macro range_minutes(multirange) -%}
    coalesce((select extract(epoch from sum(upper(r) - lower(r)))::double precision / 60.0
              from unnest({{ multirange }}) as r), 0.0)
{%- endmacro %}
