"""Claims from the command line: start, status, events, act."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import err, fail, fail_with, finish, load_json, operator, print_json, run_claims
from domain.errors import ClaimError
from domain.names import Action
from domain.parsing import parse_referral


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
            body = load_json(file.read_text(), "the referral file")
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
        fail_with(error)
    except OSError as error:
        fail("invalid_input", f"cannot read the referral file: {error.strerror}", exit_code=2)

    status, created = run_claims(lambda claims: claims.start(referral, operator()))
    err.print("created" if created else "already exists", style="green" if created else "yellow")
    print_json(status.model_dump(mode="json"))
    finish(0)


def status(claim_id: str) -> None:
    """Show a claim's status (from the projection)."""
    result = run_claims(lambda claims: claims.get(claim_id, operator()))
    print_json(result.model_dump(mode="json"))
    finish(0)


def events(claim_id: str) -> None:
    """Show a claim's audit timeline."""
    result = run_claims(lambda claims: claims.events(claim_id, operator()))
    print_json([e.model_dump(mode="json") for e in result])
    finish(0)


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
        payload = load_json(data, "--data")
    except ClaimError as error:
        fail_with(error)
    result = run_claims(
        lambda claims: claims.act(
            claim_id, action, payload, operator(), idempotency_key=idempotency_key
        )
    )
    print_json(result.model_dump(mode="json"))
    finish(0)
