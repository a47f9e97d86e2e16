"""Claims from the command line: start (one, or many from a file), status, events, act, list,
and the legal hold on a claim's records (`legal-hold set|lift`)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from claim_service import ClaimService
from cli.bulk import start_file
from cli.common import (
    err,
    fail,
    fail_with,
    finish,
    load_json,
    operator,
    out,
    print_json,
    run_claims,
)
from cli.referral_files import FileFormat, format_of
from domain.errors import ClaimError, InvalidInput
from domain.models import INTAKE, Caller, ClaimQuery, ClaimStatus, Outcome, Stage
from domain.names import Action, LegalHoldReason, Role
from domain.parsing import parse_referral


def start(
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            help="a referral file: .json (one referral), .jsonl (one per line) or .csv "
            "(a header row of the referral's dotted field names; list cells split on ';')",
        ),
    ] = None,
    file_format: Annotated[
        FileFormat | None,
        typer.Option("--format", help="the file's format when its extension does not say"),
    ] = None,
    concurrency: Annotated[
        int, typer.Option(min=1, max=256, help="claims started at once from a .jsonl/.csv file")
    ] = 32,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="validate the file only; start nothing")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="a bulk start's summary as JSON")] = False,
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
    """Start one claim from a referral JSON file or from flags, or many from a JSONL/CSV file.

    A JSONL/CSV file is validated line by line before anything starts;
    then its valid lines start concurrently (docs/api.md, Operations CLI).
    Exit code: 0 all started or already existing, 2 a line invalid, 1 a start failed."""
    if file is not None:
        fmt = format_of(file, file_format)
        if fmt is not FileFormat.JSON:
            start_file(file, fmt, concurrency=concurrency, dry_run=dry_run, as_json=as_json)
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

    if dry_run:
        err.print("valid: nothing was started", style="green")
        finish(0)
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


legal_hold = typer.Typer(
    help="A legal hold on a claim's records: the retention sweep leaves a held claim.",
    no_args_is_help=True,
)
_REASON = typer.Option("--reason", help="why, as a code (no free text: no PHI in the log)")


@legal_hold.command("set")
def set_legal_hold(claim_id: str, reason: Annotated[LegalHoldReason, _REASON]) -> None:
    """Put the claim's records under a legal hold (PUT /v1/claims/{id}/legal-hold)."""
    body = {"reason": reason.value}
    result = run_claims(lambda claims: _hold(claims, claim_id, body, held=True))
    print_json(result.model_dump(mode="json"))
    finish(0)


@legal_hold.command("lift")
def lift_legal_hold(claim_id: str, reason: Annotated[LegalHoldReason, _REASON]) -> None:
    """Lift the claim's legal hold: the retention sweep may destroy its records again."""
    body = {"reason": reason.value}
    result = run_claims(lambda claims: _hold(claims, claim_id, body, held=False))
    print_json(result.model_dump(mode="json"))
    finish(0)


async def _hold(
    claims: ClaimService, claim_id: str, body: dict[str, str], *, held: bool
) -> ClaimStatus:
    caller = operator()
    return await claims.legal_hold(await claims.get(claim_id, caller), caller, body, held=held)


def list_claims(
    stage: Annotated[Stage | None, typer.Option(help="the claim's stage")] = None,
    outcome: Annotated[Outcome | None, typer.Option(help="the closed claim's outcome")] = None,
    jurisdiction: Annotated[str | None, typer.Option(help="the jurisdiction profile")] = None,
    insurer: Annotated[str | None, typer.Option(help="the insurer's id")] = None,
    overdue: Annotated[
        bool | None, typer.Option("--overdue/--not-overdue", help="a deadline is breached")
    ] = None,
    updated_after: Annotated[
        str | None, typer.Option(help="updated after this ISO 8601 time (UTC if no zone)")
    ] = None,
    limit: Annotated[int, typer.Option(help="claims on the page (1-200)")] = 50,
    cursor: Annotated[
        str | None, typer.Option(help="the next page: the cursor the previous page printed")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="the page as the API's JSON")] = False,
) -> None:
    """List claims from the projection, oldest update first, as the API's `GET /v1/claims`."""
    filters = {
        "stage": stage,
        "outcome": outcome,
        "jurisdiction": jurisdiction,
        "overdue": overdue,
        "updated_after": updated_after,
        "limit": limit,
        "cursor": cursor,
    }
    try:
        query = ClaimQuery.model_validate(
            {k: v for k, v in filters.items() if v is not None}, context=INTAKE
        )
    except ValidationError as error:
        fail_with(InvalidInput.from_validation(error, "the filters are invalid"))
    page = run_claims(lambda claims: claims.list_claims(query, _lister(insurer)))
    if as_json:
        print_json(page.model_dump(mode="json"))
        finish(0)
    table = Table(
        "claim id",
        "insurer",
        "claim number",
        "jurisdiction",
        "stage",
        "status",
        "outcome",
        "safety hold",
        "overdue",
        "next deadline",
        "updated",
        caption=f"{len(page.items)} claims",
    )
    for claim in page.items:
        table.add_row(
            claim.claim_id,
            claim.insurer_id,
            claim.claim_number,
            claim.jurisdiction,
            claim.stage.value,
            claim.status,
            claim.outcome.value if claim.outcome else "-",
            "yes" if claim.safety_hold else "no",
            "yes" if claim.overdue else "no",
            _when(claim.next_deadline),
            _when(claim.updated_at),
        )
    out.print(table)
    if page.next_cursor:
        out.print(f"next cursor: {page.next_cursor}")
    finish(0)


def _lister(insurer: str | None) -> Caller:
    """Ops, or with --insurer the insurer's own read scope (domain.access), which is exactly the
    claims of that insurer: the service's list path has no insurer filter of its own."""
    caller = operator()
    if insurer is None:
        return caller
    return Caller(role=Role.INSURER, insurer_id=insurer, key_name=caller.key_name)


def _when(at: datetime | None) -> str:
    return at.isoformat(timespec="seconds") if at else "-"
