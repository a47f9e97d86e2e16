"""The dev stack's SMTP sink: accepts every message on loopback and keeps it as an `.eml` file
under `<data_dir>/mail/`, so notices can be read without a real mail server.

`python -m devstack.mail_sink` (the supervisor runs it).
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from observability.logs import configure_logging
from settings import get_settings


class KeepAsFiles:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
        draft = self.directory / f".{name}"
        draft.write_bytes(envelope.original_content or envelope.content)
        draft.replace(self.directory / name)  # readers never see a half-written message
        return "250 Message accepted for delivery"


def sink(directory: Path, host: str, port: int) -> Controller:
    return Controller(KeepAsFiles(directory), hostname=host, port=port)


async def main() -> None:
    settings = get_settings()
    controller = sink(settings.data_dir / "mail", "127.0.0.1", settings.smtp_port)
    controller.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    configured = get_settings()
    configure_logging("ime-mail-sink", level=configured.log_level, fmt=configured.log_format)
    asyncio.run(main())
