{#- The gaps that still stand, each as the time range it was silent (up to now while open). A gap a
    later recomputation no longer found (late data or a backfill filled it: cleared_at is set)
    counts for nothing. -#}
select tenant, equipment, metric, gap_start, gap_end,
       tstzrange(gap_start, greatest(coalesce(gap_end, now()), gap_start)) as silence
from {{ source('tds', 'gaps') }}
where cleared_at is null
