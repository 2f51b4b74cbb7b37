{#- Marts land in exactly the schema they name (`analytics`), not dbt's default
    `<target schema>_<custom schema>`: the analyst role and its policies are granted on that name. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
