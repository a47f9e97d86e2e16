"""The command line of `python -m chaos`: which scenarios, how many claims, and the report."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from chaos.faults import SCENARIOS
from chaos.run import Result, harness
from chaos.stack import StackFailed

# Wide enough for the summary table when the output goes to a file or a CI log.
console = Console(highlight=False, width=max(150, shutil.get_terminal_size().columns))
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def _window(result: Result) -> str:
    fault = result.fault
    if not fault.actions:
        return "-"
    return f"{fault.start - result.began:.0f}-{fault.end - result.began:.0f} s"


def _show(result: Result) -> None:
    verdict = "[green]PASS[/]" if result.passed else "[red]FAIL[/]"
    console.print(f"[bold]{result.scenario}[/] {verdict} ({result.took:.0f} s)")
    for at, what in result.fault.actions:
        console.print(f"    {at - result.began:6.1f} s  {what}")
    for outage in result.fault.outages:
        console.print(
            f"    {outage.dependency} down {outage.end - outage.start:.1f} s "
            f"(from {outage.start - result.began:.1f} s)"
        )
    figures = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in result.figures.items())
    console.print(f"    {figures}")
    for finding in result.findings[:20]:
        console.print(f"    [red]-[/] {finding}", soft_wrap=True)
    if len(result.findings) > 20:
        console.print(f"    ... and {len(result.findings) - 20} more")


def _table(results: list[Result]) -> Table:
    table = Table(title="make chaos")
    for column in (
        "scenario",
        "claims",
        "approved/denied",
        "fault window",
        "/readyz 200 after",
        "claims moving after",
        "deadline events",
        "retried keys",
        "result",
    ):
        table.add_column(column, no_wrap=True)
    for r in results:
        others = sum(n for k, n in r.outcomes.items() if k not in ("approved", "denied"))
        table.add_row(
            r.scenario,
            str(r.claims),
            f"{r.outcomes['approved']}/{r.outcomes['denied']}"
            + (f" (+{others} other)" if others else ""),
            _window(r),
            _seconds(r.ready_after),
            _seconds(r.progressing_after),
            str(r.figures.get("deadline_events", "-")),
            str(r.figures.get("retried_keys", "-")),
            "[green]PASS[/]" if r.passed else "[red]FAIL[/]",
        )
    return table


async def _run(names: list[str], claims: int, root: Path) -> list[Result]:
    results = []
    run_tag = time.strftime("%H%M%S")
    async with harness(root) as chaos:
        console.print(f"stack ready (logs in {chaos.stack.data_dir / 'logs'})")
        for index, name in enumerate(names):
            console.print(f"[bold]{name}[/]: {SCENARIOS[name].describe()}; {claims} claims")
            result = await chaos.run(name, claims, f"{run_tag}{index}")
            _show(result)
            results.append(result)
    return results


@app.command()
def chaos(
    claims: Annotated[int, typer.Option(help="claims in flight per scenario", min=1)] = 50,
    scenario: Annotated[
        list[str] | None,
        typer.Option(help=f"repeatable; default all: {', '.join(SCENARIOS)}"),
    ] = None,
    keep: Annotated[bool, typer.Option(help="keep the stack's data directory")] = False,
) -> None:
    """Inject faults into a dev stack of its own while claims are walked; check that nothing
    was lost or done twice. Exit code 1 on any failure."""
    names = scenario or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        console.print(f"[red]unknown scenario(s) {unknown}[/]; known: {', '.join(SCENARIOS)}")
        raise typer.Exit(2)
    root = Path(tempfile.mkdtemp(prefix="ime-chaos-"))
    started = time.monotonic()
    try:
        results = asyncio.run(_run(names, claims, root))
    except StackFailed as err:
        console.print(f"[red]the stack failed[/]: {err}", soft_wrap=True)
        console.print(f"kept {root} for its logs")
        raise typer.Exit(1) from None
    console.print(_table(results))
    passed = all(r.passed for r in results)
    console.print(f"{len(results)} scenario(s) in {time.monotonic() - started:.0f} s")
    if passed and not keep:
        shutil.rmtree(root, ignore_errors=True)
    else:
        console.print(f"kept {root} (the stack's logs under */data/logs)")
    if not passed:
        raise typer.Exit(1)


def main() -> int:
    """The exit code, handed to chaos/__main__.py (which exits without the interpreter's own
    shutdown: see there)."""
    try:
        app()  # standalone: usage errors as Typer shows them; always ends with SystemExit
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else int(done.code is not None)
    return 0
