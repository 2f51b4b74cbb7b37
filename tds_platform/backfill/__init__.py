"""Gap backfill: ask an equipment to resend a missing window, follow its answer, judge what landed.

Plain functions over the database and the broker (no Dagster import), so the loop is tested
end-to-end without an orchestrator; readings only ever land through the stream writer.
"""
