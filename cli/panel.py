"""The examiner panel: list with load, add, edit, deactivate, away periods (`panel_service.Panel`,
as ops)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import asyncpg
import typer
from rich.table import Table

from claim_service import ClaimService
from cli.common import err, fail_with, finish, load_json, operator, out, print_json, run
from connections import connect_temporal, sealer
from domain.errors import ClaimError
from domain.models import Deactivation, ExaminerAway, ExaminerWithLoad, Specialty
from panel_service import Panel
from settings import Settings

app = typer.Typer(
    no_args_is_help=True, help="The examiner panel: list, add, edit, deactivate, away"
)

AsJson = Annotated[bool, typer.Option("--json", help="the answer as JSON")]


def _panel(work: Any, *, temporal: bool = False) -> Any:
    """Run `work(panel)`; with `temporal`, able to move bookings (deactivation)."""

    async def with_panel(pool: asyncpg.Pool, settings: Settings) -> Any:
        claims = None
        if temporal:
            client = await connect_temporal(settings)
            claims = ClaimService(pool, client, settings, sealer(settings))
        return await work(Panel(pool, claims))

    return run(with_panel)


def _examiners(examiners: list[ExaminerWithLoad]) -> Table:
    table = Table("id", "name", "specialty", "licences", "active", "load", "location", "email")
    for e in examiners:
        table.add_row(
            e.id,
            e.name,
            e.specialty.value,
            ",".join(e.licensed_states),
            "yes" if e.active else "no",
            f"{e.open_bookings}/{e.capacity}",
            e.location,
            e.email or "-",
        )
    return table


def _deactivation(done: Deactivation) -> Table:
    table = Table("claim", "stage", "what happened", "now with / why")
    for r in done.rebooked:
        table.add_row(r.claim_id, r.stage.value, f"re-booked ({r.action})", r.examiner_id or "…")
    for left in done.left:
        table.add_row(left.claim_id, left.stage.value, f"left: {left.reason}", left.message)
    return table


@app.command(name="list")
def list_panel(as_json: AsJson = False) -> None:
    """Every examiner with their load (open bookings / capacity)."""
    examiners = _panel(lambda panel: panel.list(operator()))
    if as_json:
        print_json([e.model_dump(mode="json") for e in examiners])
    else:
        out.print(_examiners(examiners))
    finish(0)


@app.command()
def add(
    file: Annotated[Path, typer.Option("--file", "-f", help="the examiner as JSON")],
    as_json: AsJson = False,
) -> None:
    """Add an examiner from a JSON file in the shape of `POST /v1/examiners`."""
    try:
        body = load_json(file.read_text(), "--file")
    except ClaimError as error:
        fail_with(error)
    added = _panel(lambda panel: panel.add(operator(), body))
    if as_json:
        print_json(added.model_dump(mode="json"))
    else:
        err.print(f"added examiner {added.id}")
    finish(0)


@app.command()
def edit(
    examiner_id: str,
    name: Annotated[str | None, typer.Option(help="the examiner's name")] = None,
    specialty: Annotated[Specialty | None, typer.Option(help="their specialty")] = None,
    licences: Annotated[
        str | None, typer.Option(help="the states they are licensed in, comma-separated: NY,NJ")
    ] = None,
    capacity: Annotated[int | None, typer.Option(help="open bookings they take at most")] = None,
    location: Annotated[str | None, typer.Option(help="where they examine")] = None,
    email: Annotated[str | None, typer.Option(help="where their notices go")] = None,
    active: Annotated[
        bool | None,
        typer.Option("--active/--inactive", help="--inactive deactivates (bookings move on)"),
    ] = None,
    data: Annotated[
        str | None, typer.Option("--data", "-d", help="a JSON merge patch, instead of options")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Edit an examiner: only the fields given change."""
    patch: Any
    if data is not None:
        try:
            patch = load_json(data, "--data")
        except ClaimError as error:
            fail_with(error)
    else:
        given = {
            "name": name,
            "specialty": specialty.value if specialty else None,
            "licensed_states": [s.strip() for s in licences.split(",")] if licences else None,
            "capacity": capacity,
            "location": location,
            "email": email,
            "active": active,
        }
        patch = {k: v for k, v in given.items() if v is not None}
    edited = _panel(lambda panel: panel.edit(operator(), examiner_id, patch), temporal=True)
    if as_json:
        print_json(edited.model_dump(mode="json"))
        finish(0)
    out.print(_examiners([ExaminerWithLoad(**edited.model_dump(exclude={"deactivation"}))]))
    if edited.deactivation is not None:
        out.print(_deactivation(edited.deactivation))
    finish(0)


@app.command()
def deactivate(examiner_id: str, as_json: AsJson = False) -> None:
    """Take an examiner off the panel: no new bookings; their open bookings move to other
    examiners (claims past the exam stay, listed with why). Safe to run again."""
    done = _panel(lambda panel: panel.deactivate(operator(), examiner_id), temporal=True)
    if as_json:
        print_json(done.model_dump(mode="json"))
        finish(0)
    out.print(_examiners([done.examiner]))
    if done.rebooked or done.left:
        out.print(_deactivation(done))
    else:
        err.print("no open bookings to move")
    finish(0)


@app.command()
def away(
    examiner_id: str,
    add: Annotated[
        tuple[str, str] | None,
        typer.Option(metavar="START END", help="add a period: first and last day (YYYY-MM-DD)"),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="remove every period")] = False,
    as_json: AsJson = False,
) -> None:
    """An examiner's away periods (no booking on those days, in the claim's profile timezone):
    list them, add one, or clear them. Claims already booked on an away day are listed as
    conflicts, not moved: reschedule or assign them."""

    async def work(panel: Panel) -> ExaminerAway:
        caller = operator()
        if clear:
            return await panel.set_away(caller, examiner_id, {"periods": []})
        current = await panel.away(caller, examiner_id)
        if add is None:
            return current
        periods = [p.model_dump(mode="json") for p in current.periods]
        periods.append({"starts_on": add[0], "ends_on": add[1]})
        return await panel.set_away(caller, examiner_id, {"periods": periods})

    shown = _panel(work)
    if as_json:
        print_json(shown.model_dump(mode="json"))
        finish(0)
    table = Table("from", "to (inclusive)")
    for period in shown.periods:
        table.add_row(period.starts_on.isoformat(), period.ends_on.isoformat())
    if shown.periods:
        out.print(table)
    else:
        err.print("no away periods")
    if shown.conflicts:
        err.print("booked on an away day (not moved): " + ", ".join(shown.conflicts))
    finish(0)
