"""Runs the dispatcher until SIGINT/SIGTERM: delivers the outbox (webhooks, email, pages).
Run as many as needed: they share the work through Postgres leases."""

from __future__ import annotations

import asyncio
import logging
import signal

import httpx

from connections import open_pool, sealer
from delivery.channels import SEND_TIMEOUT, Channels
from delivery.relay import Relay
from observability.process import setup
from settings import get_settings

log = logging.getLogger("ime.dispatcher")


async def main() -> None:
    settings = get_settings()
    pool = await open_pool(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with httpx.AsyncClient(timeout=SEND_TIMEOUT, follow_redirects=False) as http:
        channels = Channels(settings, http)
        relay = Relay(pool, sealer(settings), channels, settings)
        log.info("dispatcher %s delivering", relay.owner)
        try:
            await relay.run(stop)
        finally:
            await channels.aclose()
    await pool.close()


if __name__ == "__main__":
    setup(get_settings(), "ime-dispatcher", temporal=False)
    asyncio.run(main())
