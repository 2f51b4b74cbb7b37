{#- Per tenant, site, equipment and UTC day: one line of data quality, and the equipment's rank
    among its tenant's fleet that day (worst_rank 1 = worst). quality_score is the share of the
    expected readings that arrived good, 100 * min(good / expected, 1), so missing and bad data
    both lower it; ties break on gap minutes. -#}
{{ config(
    window_column='day',
    window_grain='day',
    indexes=[{'columns': ['tenant', 'day', 'worst_rank']}, {'columns': ['tenant', 'equipment', 'day']}],
) }}

with quality as (
    select tenant, equipment, day,
           sum(expected) as expected, sum(received) as received, sum(good) as good
    from {{ ref('equipment_daily') }}
    where {{ in_window('day', 'day') }}
    group by tenant, equipment, day
),

availability as (
    select tenant, equipment, day, gap_minutes, silent_minutes, uptime_pct, gap_count
    from {{ ref('equipment_availability') }}
    where {{ in_window('day', 'day') }}
),

equipment_days as (
    select coalesce(a.tenant, q.tenant) as tenant,
           coalesce(a.equipment, q.equipment) as equipment,
           coalesce(a.day, q.day) as day,
           q.expected, coalesce(q.received, 0) as received, coalesce(q.good, 0) as good,
           a.gap_minutes, a.silent_minutes, a.uptime_pct, a.gap_count
    from availability a
    full join quality q on q.tenant = a.tenant and q.equipment = a.equipment and q.day = a.day
),

scored as (
    select d.*,
           {{ coverage_pct('d.received', 'd.expected') }} as coverage_pct,
           {{ good_pct('d.good', 'd.received') }} as good_pct,
           {{ coverage_pct('d.good', 'd.expected') }} as quality_score
    from equipment_days d
)

select s.tenant, e.site, s.equipment, s.day,
       s.expected, s.received, s.good, s.coverage_pct, s.good_pct, s.quality_score,
       s.gap_minutes, s.silent_minutes, s.uptime_pct, s.gap_count,
       rank() over (partition by s.tenant, s.day
                    order by s.quality_score asc nulls last, s.gap_minutes desc nulls last) as worst_rank
from scored s
join {{ ref('stg_equipment') }} e on e.tenant = s.tenant and e.equipment = s.equipment
