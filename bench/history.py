"""History lengths: of a completed claim (what one claim costs Temporal), and the longest of the
recorded branches in tests/histories."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from settings import PROJECT_ROOT

HISTORIES = PROJECT_ROOT / "tests" / "histories"


# The marker the SDK records for each local activity's result.
LOCAL_ACTIVITY_MARKER = "core_local_activity"


@dataclass(frozen=True)
class HistoryCounts:
    events: int
    activities: int  # scheduled activities and local ones
    local_activities: int
    workflow_tasks: int


async def history_counts(client: Client, workflow_id: str) -> HistoryCounts:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    kinds = Counter(event.event_type for event in history.events)
    local = sum(
        1
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and event.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER
    )
    return HistoryCounts(
        events=len(history.events),
        activities=kinds[EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED] + local,
        local_activities=local,
        workflow_tasks=kinds[EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED],
    )


def longest_recorded_history(directory: Path = HISTORIES) -> tuple[int, str]:
    """(events, file name) of the longest history recorded for the replay tests."""
    lengths = [
        (len(json.loads(path.read_text())["history"]["events"]), path.name)
        for path in sorted(directory.glob("*.json"))
    ]
    return max(lengths)
