"""A workflow and an activity that log, for tests/test_logs.py (a module of their own: the
workflow sandbox imports it, and so should import little)."""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio import activity, workflow


@activity.defn
async def log_from_activity() -> None:
    logging.getLogger("ime.test").info("activity step")


@workflow.defn
class LoggingWorkflow:
    @workflow.run
    async def run(self) -> None:
        workflow.logger.info("workflow step")
        await workflow.execute_activity(
            log_from_activity, start_to_close_timeout=timedelta(seconds=10)
        )
