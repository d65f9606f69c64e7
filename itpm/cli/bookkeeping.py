"""``itpm book``, ``risk`` and ``note``: costs, risks and notes people add to a run's record."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated

import typer

from itpm.bookkeeping import BookkeepingError, add_note, book_cost, close_risk, raise_risk
from itpm.cli import consoles
from itpm.cli.exit_codes import EXIT_OK
from itpm.cli.typer_app import IdentityOption, app, identity_of
from itpm.log.store import ProjectLog
from itpm.models.project import Level
from itpm.settings import load_settings

__all__ = ["book_command", "note_command", "risk_command"]


@app.command("book")
def book_command(
    run_id: Annotated[str, typer.Argument(help="the run the cost belongs to")],
    *,
    note: Annotated[str, typer.Option(help="what the cost was for")],
    hours: Annotated[float | None, typer.Option(help="team time, at the role's rate from the project budget")] = None,
    role: Annotated[str | None, typer.Option(help="the role the hours are paid at (default: yours)")] = None,
    amount: Annotated[str | None, typer.Option(help="money spent on anything else, in the budget's currency")] = None,
    identity: IdentityOption = None,
) -> int:
    """Book a cost against the project's budget: hours of team time, or an amount (a vendor invoice, a part)."""
    try:
        money = Decimal(amount) if amount is not None else None
    except InvalidOperation:
        raise BookkeepingError(f"--amount {amount!r} is not a number", fix="give it like 1250.00") from None
    log = ProjectLog.for_settings(load_settings())
    booked = book_cost(log, run_id, by=identity_of(identity), note=note, hours=hours, role=role, amount=money)
    consoles.out.print(f"booked {booked.currency} {booked.amount:,.2f} ({booked.category}) on run {run_id}")
    return EXIT_OK


class _RiskAction(StrEnum):
    RAISE = "raise"
    CLOSE = "close"


@app.command("risk")
def risk_command(
    run_id: Annotated[str, typer.Argument(help="the run")],
    action: Annotated[_RiskAction, typer.Argument(help="raise or close")],
    risk_id: Annotated[str, typer.Argument(help="the risk's id, e.g. R1 (new ids need --title)")],
    *,
    note: Annotated[str, typer.Option(help="what happened, or why it is closed")] = "",
    title: Annotated[str | None, typer.Option(help="a new risk's title")] = None,
    likelihood: Annotated[Level | None, typer.Option(help="low, medium or high")] = None,
    impact: Annotated[Level | None, typer.Option(help="low, medium or high")] = None,
    owner: Annotated[str | None, typer.Option(help="who owns it (default: you)")] = None,
    materialized: Annotated[bool, typer.Option(help="it happened, not only became likely")] = False,
    identity: IdentityOption = None,
) -> int:
    """Raise a risk (new, or one of the project file's materializing) or close an open one."""
    log = ProjectLog.for_settings(load_settings())
    by = identity_of(identity)
    if action is _RiskAction.CLOSE:
        close_risk(log, run_id, risk_id, by=by, note=note)
        consoles.out.print(f"closed risk {risk_id} of run {run_id}")
        return EXIT_OK
    raise_risk(
        log,
        run_id,
        risk_id,
        by=by,
        note=note,
        title=title,
        likelihood=likelihood.value if likelihood else None,
        impact=impact.value if impact else None,
        owner=owner,
        materialized=materialized,
    )
    consoles.out.print(f"raised risk {risk_id} on run {run_id}")
    return EXIT_OK


@app.command("note")
def note_command(
    run_id: Annotated[str, typer.Argument(help="the run")],
    text: Annotated[str, typer.Argument(help="the note")],
    identity: IdentityOption = None,
) -> int:
    """Add a note to a run's record (a decision, a call with a vendor, a lesson learned)."""
    add_note(ProjectLog.for_settings(load_settings()), run_id, author=identity_of(identity), text=text)
    consoles.out.print(f"noted on run {run_id}")
    return EXIT_OK
