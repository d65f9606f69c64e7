"""Cost booking as a reaction to the run's events: the requester's time, and per-host costs.

The requester attends the run, so each audit, plan and batch books their time at their role's rate (how long
it took, from the event itself or from the batch's start); a host verified for the first time in the project
(any run) books the budget's per-host cost. Amounts are fixed when booked: a later change of rates does not
rewrite history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from itpm.engine.ports import Journal
from itpm.log.events import (
    BatchFinished,
    BatchStarted,
    CostBooked,
    Event,
    RolledBack,
    StepAudited,
    StepPlanned,
)
from itpm.models.project import Project
from itpm.models.statuses import Verdict
from itpm.run_state import RunState

__all__ = ["CostBooking"]


class CostBooking:
    """Books time and per-host costs as the run's events arrive (a ``Reaction``)."""

    def __init__(self, project: Project, requester: str, journal: Journal) -> None:
        self.project = project
        self.requester = requester
        self.journal = journal
        self._since: dict[str, datetime] = {}  # batch label -> when its work (or its rollback) began

    def __call__(self, entry: Event, state: RunState) -> Sequence[Event]:
        """Return the costs ``entry`` books (none without a budget)."""
        if self.project.budget is None:
            return []
        booked = self._labour(entry)
        if isinstance(entry, BatchFinished) and entry.verdict is not Verdict.HALTED:
            booked += self._hosts(entry)  # a halted batch's hosts are redone: they are booked when they hold
        return booked

    def _labour(self, entry: Event) -> list[CostBooked]:
        """Return the requester's time ``entry`` closes: an audit, a plan, a batch's rollout or its rollback."""
        label = entry.batch or ""
        if isinstance(entry, StepAudited):
            return [self._time(entry, f"audit of {entry.step} ({entry.stage} the change)", entry.duration_s)]
        if isinstance(entry, StepPlanned):
            return [self._time(entry, f"plan of {entry.step}", entry.duration_s)]
        if isinstance(entry, BatchStarted):
            self._since[label] = entry.at
            return []
        # A halted batch's rollback is the batch's work too: booked with it, in one entry, once it is done.
        rollback_follows = isinstance(entry, BatchFinished) and (
            entry.verdict is Verdict.HALTED and self._rolls_back(entry.step)
        )
        if isinstance(entry, BatchFinished | RolledBack) and not rollback_follows:
            return self._since_start(entry, f"rollout of {label}")
        return []

    def _rolls_back(self, step: str | None) -> bool:
        return step is not None and self.project.step(step).rollback is not None

    def _since_start(self, entry: Event, activity: str) -> list[CostBooked]:
        started = self._since.pop(entry.batch or "", None)
        return [] if started is None else [self._time(entry, activity, (entry.at - started).total_seconds())]

    def _time(self, entry: Event, activity: str, seconds: float) -> CostBooked:
        budget = self.project.budget
        assert budget is not None
        role = next(iter(self.project.roles_of(self.requester)), "")
        hours = seconds / 3600
        note = activity if role in budget.rates else f"{activity}; no rate for {role or 'someone off the team'}"
        return CostBooked(
            run_id=entry.run_id,
            project=entry.project,
            step=entry.step,
            batch=entry.batch,
            category="labour",
            amount=budget.labour_cost(role, hours),
            currency=budget.currency,
            role=role,
            person=self.requester,
            hours=hours,
            note=note,
        )

    def _hosts(self, finished: BatchFinished) -> list[CostBooked]:
        """Book the per-host cost of the batch's hosts verified for the first time in this project (any run)."""
        budget = self.project.budget
        if budget is None or not budget.per_host or not finished.ok:
            return []
        booked = {
            h
            for e in self.journal.project_events(self.project.name, ["cost_booked"])
            if isinstance(e, CostBooked)
            for h in e.hosts
        }
        new = sorted(set(finished.ok) - booked)
        if not new:
            return []
        return [
            CostBooked(
                run_id=finished.run_id,
                project=finished.project,
                step=finished.step,
                batch=finished.batch,
                category="hosts",
                amount=budget.per_host * len(new),
                currency=budget.currency,
                hosts=new,
                note=f"{len(new)} hosts x {budget.currency} {budget.per_host}",
            )
        ]
