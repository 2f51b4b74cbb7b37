{#- The platform's quality formulas (ARCHITECTURE.md#quality-definitions) for any window, from summed counts; NULL when undefined
    (nothing expected / nothing received) rather than a made-up 0 or 100. -#}
{% macro coverage_pct(received, expected) -%}
    case when {{ expected }} > 0 then 100.0 * least({{ received }} / {{ expected }}::double precision, 1.0) end
{%- endmacro %}

{% macro good_pct(good, received) -%}
    case when {{ received }} > 0 then 100.0 * {{ good }} / {{ received }}::double precision end
{%- endmacro %}
