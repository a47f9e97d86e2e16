"""Operations CLI: start claims, read their status, act on them.

python starter.py start --file referral.json
python starter.py status CLAIM_ID
python starter.py act CLAIM_ID confirm-appointment --data '{}'
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from claim_service import ClaimService, parse_referral
from connections import ConfigurationError, connect_temporal, open_pool
from domain.errors import ClaimError, InvalidInput
from domain.names import Action
from settings import get_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="IME claims operations CLI")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
T = TypeVar("T")


def _finish(code: int) -> None:
    # The SDK's runtime threads can crash a normal interpreter exit (sdk-python#300).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _print_json(value: Any) -> None:
    out.print_json(json.dumps(value, default=str))


def _fail(code: str, message: str, details: Any = None, exit_code: int = 1) -> None:
    err.print_json(json.dumps({"error": {"code": code, "message": message, "details": details}}))
    _finish(exit_code)


def _run(work: Callable[[ClaimService], Awaitable[T]]) -> T:
    async def main() -> T:
        settings = get_settings()
        pool = await open_pool(settings)
        try:
            client = await connect_temporal(settings)
            return await work(ClaimService(pool, client, settings))
        finally:
            await pool.close()

    try:
        return asyncio.run(main())
    except ClaimError as error:
        _fail(error.code, error.message, error.details, 2 if error.status_code == 422 else 1)
    except ConfigurationError as error:
        _fail("unavailable", str(error))
    except Exception as error:
        # The exception's text can carry payload values: only its type is shown.
        _fail("unavailable", f"the service failed: {type(error).__name__}; see the service logs")
    raise AssertionError("unreachable")


def _load_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise InvalidInput(f"{what} is not valid JSON") from None


@app.command()
def start(
    file: Annotated[Path | None, typer.Option("--file", "-f", help="referral JSON file")] = None,
    insurer_id: Annotated[str | None, typer.Option()] = None,
    claim_number: Annotated[str | None, typer.Option()] = None,
    claim_type: Annotated[str, typer.Option()] = "workers_comp",
    jurisdiction: Annotated[str, typer.Option()] = "DEMO",
    specialty: Annotated[str, typer.Option("--specialty")] = "orthopedic_surgery",
    claimant_name: Annotated[str | None, typer.Option()] = None,
    date_of_birth: Annotated[str | None, typer.Option("--dob")] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    email: Annotated[str | None, typer.Option()] = None,
    address_line1: Annotated[str | None, typer.Option()] = None,
    city: Annotated[str | None, typer.Option()] = None,
    state: Annotated[str | None, typer.Option()] = None,
    postal_code: Annotated[str | None, typer.Option()] = None,
    treating_npi: Annotated[list[str] | None, typer.Option()] = None,
    injury_date: Annotated[str | None, typer.Option()] = None,
    body_part: Annotated[list[str] | None, typer.Option()] = None,
    injury_description: Annotated[str | None, typer.Option()] = None,
    question: Annotated[list[str] | None, typer.Option()] = None,
) -> None:
    """Start one claim from a referral JSON file or from flags."""
    try:
        if file is not None:
            body = _load_json(file.read_text(), "the referral file")
        else:
            body = {
                "insurer_id": insurer_id,
                "claim_number": claim_number,
                "claim_type": claim_type,
                "jurisdiction": jurisdiction,
                "requested_specialty": specialty,
                "claimant": {
                    "full_name": claimant_name,
                    "date_of_birth": date_of_birth,
                    "phone": phone,
                    "email": email,
                    "address": {
                        "line1": address_line1,
                        "city": city,
                        "state": state,
                        "postal_code": postal_code,
                    },
                    "treating_provider_npis": treating_npi or [],
                },
                "injury": {
                    "date_of_injury": injury_date,
                    "body_parts": body_part or [],
                    "description": injury_description,
                },
                "questions": question or [],
            }
        referral = parse_referral(body)
    except ClaimError as error:
        _fail(error.code, error.message, error.details, 2)
    except OSError as error:
        _fail("invalid_input", f"cannot read the referral file: {error.strerror}", exit_code=2)

    status, created = _run(lambda claims: claims.start(referral))
    err.print("created" if created else "already exists", style="green" if created else "yellow")
    _print_json(status.model_dump(mode="json"))
    _finish(0)


@app.command()
def status(claim_id: str) -> None:
    """Show a claim's status (from the projection)."""
    result = _run(lambda claims: claims.get(claim_id))
    _print_json(result.model_dump(mode="json"))
    _finish(0)


@app.command()
def events(claim_id: str) -> None:
    """Show a claim's audit timeline."""
    result = _run(lambda claims: claims.events(claim_id))
    _print_json([e.model_dump(mode="json") for e in result])
    _finish(0)


@app.command()
def act(
    claim_id: str,
    action: Action,
    data: Annotated[str, typer.Option("--data", "-d", help="action payload JSON")] = "{}",
    idempotency_key: Annotated[
        str | None, typer.Option(help="retries with the same key are applied once")
    ] = None,
) -> None:
    """Perform an action on a claim (the payloads of PRODUCT §6)."""
    try:
        payload = _load_json(data, "--data")
    except ClaimError as error:
        _fail(error.code, error.message, error.details, 2)
    result = _run(
        lambda claims: claims.act(claim_id, action, payload, idempotency_key=idempotency_key)
    )
    _print_json(result.model_dump(mode="json"))
    _finish(0)


if __name__ == "__main__":
    app()
    _finish(0)
