"""What every CLI command shares: consoles, exiting cleanly, errors as JSON, the services.

The CLI is an operations tool run where the service's configuration is (database and Temporal
access): it acts as `ops`, recorded as `cli:<user>` in the audit log.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import asyncpg
from rich.console import Console

from claim_service import ClaimService
from connections import ConfigurationError, connect_temporal, open_pool, sealer
from domain.errors import ClaimError, InvalidInput
from domain.models import Caller
from domain.names import Role
from settings import Settings, get_settings

# Piped output keeps whole table cells (Rich would squeeze them to 80 columns).
_WIDTH = None if sys.stdout.isatty() else 240
out = Console(highlight=False, soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True)
T = TypeVar("T")


def operator() -> Caller:
    return Caller(role=Role.OPS, key_name=f"cli:{getpass.getuser()}")


def finish(code: int) -> NoReturn:
    # The SDK's runtime threads can crash a normal interpreter exit (sdk-python#300).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def print_json(value: Any) -> None:
    out.print_json(json.dumps(value, default=str))


def fail(code: str, message: str, details: Any = None, exit_code: int = 1) -> NoReturn:
    err.print_json(json.dumps({"error": {"code": code, "message": message, "details": details}}))
    finish(exit_code)


def fail_with(error: ClaimError) -> NoReturn:
    fail(error.code, error.message, error.details, 2 if error.status_code == 422 else 1)


def load_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise InvalidInput(f"{what} is not valid JSON") from None


def run(work: Callable[[asyncpg.Pool, Settings], Awaitable[T]]) -> T:
    """Run `work` with a pool, reporting failures as JSON errors (never exception text)."""

    async def main() -> T:
        settings = get_settings()
        pool = await open_pool(settings)
        try:
            return await work(pool, settings)
        finally:
            await pool.close()

    try:
        return asyncio.run(main())
    except ClaimError as error:
        fail_with(error)
    except ConfigurationError as error:
        fail("unavailable", str(error))
    except Exception as error:
        # The exception's text can carry payload values: only its type is shown.
        fail("unavailable", f"the service failed: {type(error).__name__}; see the service logs")


def run_claims(work: Callable[[ClaimService], Awaitable[T]]) -> T:
    """Run `work` with the claim service (Postgres and Temporal)."""

    async def with_service(pool: asyncpg.Pool, settings: Settings) -> T:
        client = await connect_temporal(settings)
        return await work(ClaimService(pool, client, settings, sealer(settings)))

    return run(with_service)
