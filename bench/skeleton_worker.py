"""The bench's skeleton worker (`python -m bench.skeleton_worker`, a process of its own as the
claim worker is): `SkeletonWorkflow` on its own task queue, with the claim worker's settings.

The settings are not copied by hand: the production worker is built with `worker.build_worker`
(never run) and its configuration reused with only the task queue, workflows and activities
swapped, so a change there (cache size, concurrency, pollers) reaches the baseline too.
"""

from __future__ import annotations

import asyncio
import signal

import asyncpg
from temporalio.client import Client
from temporalio.worker import Worker, WorkerConfig

from activities import ClaimActivities
from bench.skeleton import SKELETON_QUEUE, SkeletonWorkflow, record_transition
from connections import connect_temporal, open_pool, sealer
from settings import Settings, get_settings
from worker import build_worker


def production_config(client: Client, settings: Settings, pool: asyncpg.Pool) -> WorkerConfig:
    """The configuration `worker.py` runs its worker with."""
    activities = ClaimActivities(pool, settings.id_secret, sealer(settings))
    return build_worker(client, settings, activities).config()


async def main() -> None:
    settings = get_settings()
    client = await connect_temporal(settings)
    pool = await open_pool(settings)
    config = production_config(client, settings, pool)
    config["task_queue"] = SKELETON_QUEUE
    config["workflows"] = [SkeletonWorkflow]
    config["activities"] = [record_transition]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(**config):
        await stop.wait()
    await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
