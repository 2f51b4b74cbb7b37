{#- Per tenant, site and UTC day: the fleet's figures, from the equipment scorecard. Coverage and
    good% are computed from the summed counts (reading-weighted, like PI's PctGood), uptime is the
    mean over the site's equipment. -#}
{{ config(
    window_column='day',
    window_grain='day',
    indexes=[{'columns': ['tenant', 'site', 'day']}],
) }}

select tenant, site, day,
       count(*) as equipment_count,
       count(*) filter (where received > 0) as reporting_equipment,
       sum(expected) as expected,
       sum(received) as received,
       sum(good) as good,
       {{ coverage_pct('sum(received)', 'sum(expected)') }} as coverage_pct,
       {{ good_pct('sum(good)', 'sum(received)') }} as good_pct,
       avg(uptime_pct) as uptime_pct,
       coalesce(sum(gap_minutes), 0) as gap_minutes,
       (array_agg(equipment order by quality_score asc nulls last, gap_minutes desc nulls last))[1]
           as worst_equipment
from {{ ref('data_quality_scorecard') }}
where {{ in_window('day', 'day') }}
group by tenant, site, day
