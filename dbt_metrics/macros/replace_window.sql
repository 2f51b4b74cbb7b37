{#- Incremental strategy `replace_window`: delete the run's time window from the mart, then insert
    the freshly computed rows. Unlike delete+insert by key it also removes rows whose source rows
    vanished, so a re-run or backfill of a window always leaves exactly what the sources say.
    Models name the column with config(window_column=..., window_grain='hour' | 'day'). -#}
{% macro get_incremental_replace_window_sql(arg_dict) -%}
    {%- set column = config.get('window_column') -%}
    {%- if not column -%}
        {{ exceptions.raise_compiler_error("incremental_strategy 'replace_window' needs config(window_column=...)") }}
    {%- endif -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ arg_dict['target_relation'] }}
    where {{ in_window(adapter.quote(column), config.get('window_grain', 'hour')) }};

    insert into {{ arg_dict['target_relation'] }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}
