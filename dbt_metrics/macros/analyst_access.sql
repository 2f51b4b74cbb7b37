{#- Post-hook of every mart: row-level security by tenant. A rebuilt table loses its policies, so
    they are (re)applied on every run, inside the model's transaction (no unprotected moment).
    Analysts (members of tds_analyst) see the rows of the tenant mapped to their login by
    `tds analysts create` (migration 0004: analytics.current_tenant()); tds_platform reads all. -#}
{% macro secure_by_tenant() -%}
    alter table {{ this }} enable row level security;
    drop policy if exists analyst_own_tenant on {{ this }};
    create policy analyst_own_tenant on {{ this }} for select to tds_analyst
        using (tenant = (select analytics.current_tenant()));
    drop policy if exists platform_reads_all on {{ this }};
    create policy platform_reads_all on {{ this }} for select to tds_platform using (true)
{%- endmacro %}
