"""The run queue's lanes: the run tags dagster.yaml limits and orders runs by, named once for every domain.

dagster.yaml (and deploy/dagster/dagster.yaml) hold the limits and say why; this module only names
the lanes and priorities, so a job and the policy never disagree on a spelling. Must hold no policy.
"""

from __future__ import annotations

import enum

DOMAIN_TAG = "tds/domain"
PRIORITY_TAG = "dagster/priority"
# Gap repairs and the refreshes they trigger yield to the schedules whenever run slots are scarce.
REPAIR_PRIORITY = -1


class Lane(enum.StrEnum):
    """Values of DOMAIN_TAG; dagster.yaml gives each lane its concurrency limit."""

    ROLLUPS = "rollups"
    QUALITY = "quality"
    MARTS = "marts"
    BACKFILL = "backfill"
    RETENTION = "retention"
    REPLAY = "replay"


def lane_tags(lane: Lane, priority: int = 0) -> dict[str, str]:
    """The tags that put a run in `lane`; a priority other than Dagster's default 0 is named."""
    tags = {DOMAIN_TAG: lane.value}
    if priority:
        tags[PRIORITY_TAG] = str(priority)
    return tags
