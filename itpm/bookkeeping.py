"""What people add to a run's record besides the rollout itself: costs booked by hand, risks raised or closed, notes.

Each function checks its input against the run's project file (a role needs a rate, a risk to close must be open)
and commits one event; nothing here touches a host.

>>> book_cost(log, "baseline-rollout-20261126-1", by="chris", hours=1.5, note="CAB meeting")  # doctest: +SKIP
CostBooked(category='labour', amount=Decimal('180.00'), role='change_manager', hours=1.5, ...)
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from itpm.errors import InputError
from itpm.log.events import CostBooked, NoteAdded, RiskClosed, RiskRaised
from itpm.log.store import ProjectLog
from itpm.models.project import Project
from itpm.run_record import project_of, started_event, view_of

__all__ = ["BookkeepingError", "add_note", "book_cost", "close_risk", "raise_risk"]

Level = Literal["low", "medium", "high"]
_CENT = Decimal("0.01")


class BookkeepingError(InputError):
    """A booking, risk or note that does not fit the run's project file."""


def _project(log: ProjectLog, run_id: str) -> Project:
    return project_of(started_event(log, run_id))


def book_cost(
    log: ProjectLog,
    run_id: str,
    *,
    by: str,
    note: str,
    hours: float | None = None,
    role: str | None = None,
    amount: Decimal | None = None,
) -> CostBooked:
    """Book team time (``hours`` at ``role``'s rate; the role defaults to ``by``'s) or an ``amount``; return it."""
    project = _project(log, run_id)
    budget = project.budget
    if budget is None:
        raise BookkeepingError(f"project {project.name} has no budget to book against", fix="add budget: to its file")
    if (hours is None) == (amount is None):
        raise BookkeepingError("book either --hours (team time) or --amount (anything else)", fix="give one of them")
    common = {"run_id": run_id, "project": project.name, "currency": budget.currency, "note": note, "automatic": False}
    if amount is not None:
        if amount < 0:
            raise BookkeepingError(f"amount {amount} is negative", fix="book what was spent, a positive amount")
        entry = CostBooked(**common, category="other", amount=amount.quantize(_CENT), person=by)
    else:
        assert hours is not None
        if hours <= 0:
            raise BookkeepingError(f"{hours} hours: must be more than 0", fix="give the hours worked, e.g. --hours 1.5")
        role = role or next(iter(project.roles_of(by)), "")
        if role not in budget.rates:
            known = ", ".join(sorted(budget.rates)) or "none"
            raise BookkeepingError(
                f"no rate for role {role or '(none: ' + by + ' is not on the team)'} in project {project.name}",
                fix=f"give --role with one of the budget's rates: {known}",
            )
        entry = CostBooked(
            **common,
            category="labour",
            amount=budget.labour_cost(role, hours),
            role=role,
            person=by,
            hours=hours,
        )
    log.append(entry)
    return entry


def raise_risk(
    log: ProjectLog,
    run_id: str,
    risk_id: str,
    *,
    by: str,
    note: str = "",
    title: str | None = None,
    likelihood: Level | None = None,
    impact: Level | None = None,
    owner: str | None = None,
    materialized: bool = False,
) -> RiskRaised:
    """Raise a new risk, or one of the project file's again (its fields are the defaults); return the event."""
    project = _project(log, run_id)
    known = {r.id: r for r in project.risks}.get(risk_id)
    title = title or (known.title if known else None)
    if title is None:
        raise BookkeepingError(f"risk {risk_id} is not in project {project.name}'s file", fix="give it a --title")
    entry = RiskRaised(
        run_id=run_id,
        project=project.name,
        risk_id=risk_id,
        title=title,
        likelihood=likelihood or (known.likelihood.value if known else "medium"),
        impact=impact or (known.impact.value if known else "medium"),
        owner=owner or (known.owner if known else by),
        materialized=materialized,
        note=note,
        by=by,
    )
    log.append(entry)
    return entry


def close_risk(log: ProjectLog, run_id: str, risk_id: str, *, by: str, note: str = "") -> RiskClosed:
    """Close an open risk of the run; return the event (raises if the risk is unknown or already closed)."""
    view = view_of(log, run_id)
    open_ids = [r.id for r in view.open_risks]
    if risk_id not in open_ids:
        raise BookkeepingError(
            f"risk {risk_id} is not open in run {run_id}", fix=f"open risks: {', '.join(open_ids) or 'none'}"
        )
    entry = RiskClosed(run_id=run_id, project=view.project.name, risk_id=risk_id, note=note, by=by)
    log.append(entry)
    return entry


def add_note(log: ProjectLog, run_id: str, *, author: str, text: str) -> NoteAdded:
    """Add a note to the run's record; return it."""
    if not text.strip():
        raise BookkeepingError("the note is empty", fix="say what happened or was decided")
    entry = NoteAdded(run_id=run_id, project=_project(log, run_id).name, author=author, text=text)
    log.append(entry)
    return entry
