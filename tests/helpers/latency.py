"""Added latency for chosen activities: a slow database or a busy worker, on demand, so a test can
hold a claim mid-step and send the next action into that window."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)


class ActivityLatency(Interceptor):
    def __init__(self) -> None:
        # Activity name -> seconds to wait before running it; change it while the worker runs.
        self.delays: dict[str, float] = {}

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Delayed(next, self.delays)


class _Delayed(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, delays: dict[str, float]) -> None:
        super().__init__(next)
        self._delays = delays

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        delay = self._delays.get(activity.info().activity_type)
        if delay:
            await asyncio.sleep(delay)
        return await super().execute_activity(input)
