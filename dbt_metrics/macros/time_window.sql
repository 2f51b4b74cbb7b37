{#- The time window a run (re)builds, shared by every mart and by the replace_window strategy so
    the rows deleted are exactly the rows selected again.
    vars `start`/`end` (UTC, end exclusive) come from Dagster's partition range; they are parsed
    as ISO dates/timestamps and re-rendered, never pasted into SQL as given. -#}

{% macro _window_bound(name) -%}
    {%- set raw = var(name, none) -%}
    {%- if raw is none or (raw | string | trim) == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set text = raw | string | trim -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]+(Z|[+-][0-9:]+)?)?', text) -%}
        {{ exceptions.raise_compiler_error("var '" ~ name ~ "' must be an ISO date or timestamp such as 2026-03-01 or 2026-03-01T00:00:00Z") }}
    {%- endif -%}
    {%- set parsed = modules.datetime.datetime.fromisoformat(text.replace('Z', '+00:00')) -%}
    {%- set offset = '+00:00' if parsed.tzinfo is none else '' -%}
    {{ return("'" ~ parsed.isoformat() ~ offset ~ "'::timestamptz") }}
{%- endmacro %}

{#- First instant of the window as a timestamptz expression, truncated to `grain` (hour | day). -#}
{% macro window_start(grain='hour') -%}
    {%- set bound = _window_bound('start') -%}
    {%- if bound is none and is_incremental() -%}
        {%- set bound = "now() - interval '" ~ (var('lookback_days') | int) ~ " days'" -%}
    {%- endif -%}
    {%- if bound is none -%}
        '-infinity'::timestamptz
    {%- else -%}
        date_trunc('{{ _grain(grain) }}', {{ bound }}, 'UTC')
    {%- endif -%}
{%- endmacro %}

{#- First instant after the window (exclusive), truncated to `grain`. -#}
{% macro window_end(grain='hour') -%}
    {%- set bound = _window_bound('end') -%}
    {%- if bound is none -%}
        'infinity'::timestamptz
    {%- else -%}
        date_trunc('{{ _grain(grain) }}', {{ bound }}, 'UTC')
    {%- endif -%}
{%- endmacro %}

{#- Predicate: `column` lies in the window. grain 'hour' for timestamptz columns, 'day' for UTC date columns. -#}
{% macro in_window(column, grain='hour') -%}
    {%- if _grain(grain) == 'day' -%}
        {{ column }} >= ({{ window_start('day') }} at time zone 'UTC')::date
        and {{ column }} < ({{ window_end('day') }} at time zone 'UTC')::date
    {%- else -%}
        {{ column }} >= {{ window_start(grain) }} and {{ column }} < {{ window_end(grain) }}
    {%- endif -%}
{%- endmacro %}

{% macro _grain(grain) -%}
    {%- if grain not in ('hour', 'day') -%}
        {{ exceptions.raise_compiler_error("window grain must be 'hour' or 'day', got " ~ grain) }}
    {%- endif -%}
    {{ return(grain) }}
{%- endmacro %}

{#- UTC calendar day of a timestamptz, as a date. -#}
{% macro utc_day(expression) -%}
    ({{ expression }} at time zone 'UTC')::date
{%- endmacro %}
