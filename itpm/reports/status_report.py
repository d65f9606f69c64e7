"""The project status report's words and figures, before any format: a heading, key facts, titled sections.

``markdown_report`` and ``html_report`` render the same ``StatusReport``, so the file a sponsor opens and the text a
project manager pastes say the same thing in the same words. Plain words with units (hosts, %, money with its
currency, hours, UTC times); never a Python repr such as ``None`` or ``Decimal('1.2')``.

>>> report = status_report(view)  # doctest: +SKIP
>>> report.facts[:2], report.progress.paragraphs[0]  # doctest: +SKIP
((('Run', '`r1`'), ('Requested by', 'dana')), '5 of 10 host-steps verified (50%).')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from itpm.models.project import PhaseName
from itpm.reports.emergency_flag import emergency_flag
from itpm.reports.project_view import BudgetView, CheckComparison, MilestoneView, ProjectView, RiskView
from itpm.reports.section import ReportSection
from itpm.reports.wording import duration, money, percent, plural, when
from itpm.run_state import HostStepState, RunState

__all__ = [
    "StatusReport",
    "format_period",
    "run_state",
    "status_report",
]

# Long host lists would drown a sentence; the log and `itpm status` have the full list.
_HOSTS_NAMED = 10

_FINISHED = {
    "completed": "completed",
    "halted": "halted",
    "rejected": "stopped: approval rejected",
    "dry_run": "dry run finished (audit and plan only, nothing changed)",
    "failed": "failed",
}


@dataclass(frozen=True)
class StatusReport:
    """A run's status report: its heading, the key facts under it, and its sections in reading order."""

    title: str
    facts: tuple[tuple[str, str], ...]  # (label, value), e.g. ("State", "running (execution phase)")
    progress: ReportSection
    schedule: ReportSection
    milestones: ReportSection
    budget: ReportSection
    compliance: ReportSection
    risks: ReportSection
    attention: ReportSection

    @property
    def sections(self) -> tuple[ReportSection, ...]:
        """Return the sections in reading order: progress, schedule, ..., needs attention."""
        return (
            self.progress,
            self.schedule,
            self.milestones,
            self.budget,
            self.compliance,
            self.risks,
            self.attention,
        )


def status_report(view: ProjectView) -> StatusReport:
    """Return the words and figures of the status report of ``view``'s run."""
    status = view.status
    return StatusReport(
        title=view.project.title,
        facts=(
            ("Run", f"`{status.run_id}`" if status.run_id else "none yet"),
            ("Requested by", status.requester or "nobody yet"),
            ("State", run_state(status)),
            ("As of", when(view.as_of)),
            *((("Emergency change", emergency_flag(status)),) if status.emergency else ()),
            *_chain_fact(view),
        ),
        progress=_progress(view),
        schedule=_schedule(view),
        milestones=_milestones(view.milestones),
        budget=_budget(view.budget),
        compliance=_compliance(view.compliance),
        risks=_risks(view.risks, view.open_risks),
        attention=ReportSection(
            "Needs attention",
            paragraphs=() if view.attention else ("Nothing needs attention.",),
            bullets=view.attention,
        ),
    )


def _chain_fact(view: ProjectView) -> tuple[tuple[str, str], ...]:
    """Return the log chain's head as a fact an auditor notes, to compare later: none when the run has no chain.

    ``(('Log chain', 'head `3f9a1c2b7d4e` after 31 events; `itpm log verify r1 --head 3f9a1c2b7d4e` checks it'),)``
    """
    head, run_id = view.chain_head, view.status.run_id
    if head is None or not run_id:
        return ()
    check = f"`itpm log verify {run_id} --head {head.short}`"
    return (("Log chain", f"head `{head.short}` after {plural(head.chained, 'event')}; {check} checks it"),)


# -- figures -------------------------------------------------------------------------------------------------------


def format_period(start: datetime, end: datetime) -> str:
    """Return a period in UTC, its date once if it is within a day: ``'2026-11-26 10:00 to 10:30 UTC'``."""
    first, last = _utc(start), _utc(end)
    if first.date() == last.date():
        return f"{first:%Y-%m-%d %H:%M} to {last:%H:%M} UTC"
    return f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC"


def run_state(status: RunState) -> str:
    """Return where the run stands in a few words, e.g. ``'running (execution phase)'``, ``'halted'``."""
    if not status.run_id:
        return "not started"
    if status.finished:
        return _FINISHED.get(status.finished, _words(status.finished))
    if status.waiting_for_approval:
        return f"waiting for approval of step {status.waiting_for_approval}"
    dry = "dry run " if status.dry_run else ""
    return f"{dry}running ({_words(status.phase)} phase)"


def _utc(moment: datetime) -> datetime:
    # The log stores UTC; a database may hand it back without its zone.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _words(name: str) -> str:
    """Return an identifier as words: ``monitoring_and_control`` -> ``monitoring and control``."""
    return name.replace("_", " ")


def _host_list(hosts: Sequence[str]) -> str:
    """Return hosts by name, the first ten, e.g. ``'h1, h2'`` or ``'h1, ..., h10 and 40 more'``."""
    named = ", ".join(hosts[:_HOSTS_NAMED])
    return named + (f" and {len(hosts) - _HOSTS_NAMED} more" if len(hosts) > _HOSTS_NAMED else "")


def _hosts_failing(failing: Sequence[str], of: int) -> str:
    """Return ``'2 of 10 (h1, h2)'``, or ``'0 of 10'`` when none fail."""
    return f"{len(failing)} of {of}" + (f" ({_host_list(failing)})" if failing else "")


# -- sections ------------------------------------------------------------------------------------------------------


def _progress(view: ProjectView) -> ReportSection:
    status = view.status
    if not status.run_id:
        return ReportSection("Progress", paragraphs=("The run has not started: no host-step is verified yet.",))
    paragraphs = [f"{status.verified} of {status.total} host-steps verified ({percent(view.percent_complete)})."]
    paragraphs.append(
        f"A host-step is one step of the project on one host: this run has {plural(len(status.steps), 'step')} "
        f"on {plural(len(status.hosts), 'host')}."
    )
    if status.dry_run:
        paragraphs.append("This is a dry run: it audits and plans, and changes nothing.")
    bullets = []
    for step in status.steps:
        hosts = status.hosts_of(step)
        states = [status.states.get((step, host)) for host in hosts]
        line = f"Step `{step}`: {states.count(HostStepState.VERIFIED)} of {plural(len(hosts), 'host')} verified"
        failed = [h for h, s in zip(hosts, states, strict=True) if s is HostStepState.FAILED]
        rolled = [h for h, s in zip(hosts, states, strict=True) if s is HostStepState.ROLLED_BACK]
        if failed:
            line += f"; failed: {_host_list(failed)}"
        if rolled:
            line += f"; rolled back: {_host_list(rolled)}"
        bullets.append(line + ".")
    return ReportSection("Progress", paragraphs=tuple(paragraphs), bullets=tuple(bullets))


def _schedule(view: ProjectView) -> ReportSection:
    sentence = view.schedule_sentence
    paragraphs = [sentence[:1].upper() + sentence[1:] + "."]
    if view.planned_finish is not None:
        execution = any(p.name is PhaseName.EXECUTION for p in view.project.phases)
        why = "the end of the execution phase" if execution else "the last milestone"
        paragraphs.append(f"Planned finish: {view.planned_finish} ({why}).")
    else:
        paragraphs.append("Planned finish: not set (the project file has no execution phase and no milestone).")
    if view.throughput_per_hour is not None:
        paragraphs.append(
            f"Throughput: {view.throughput_per_hour:,.1f} host-steps verified per hour since the first batch started "
            "(pauses and approval waits included)."
        )
    else:
        paragraphs.append("Throughput: not measured yet (no host-step is verified).")
    if view.started_at is not None:
        took = "took" if view.ended_at is not None else "elapsed so far:"
        ended = f", ended {when(view.ended_at)}" if view.ended_at is not None else ""
        paragraphs.append(f"Started {when(view.started_at)}{ended}; {took} {duration(view.elapsed.total_seconds())}.")
    approvals = tuple(f"Approval of step {line}." for line in view.status.approvals)
    return ReportSection("Schedule", paragraphs=tuple(paragraphs), bullets=approvals, table=_phase_rows(view))


def _phase_rows(view: ProjectView) -> tuple[dict[str, str], ...]:
    """Return one row per phase, planned or entered by the run: its planned dates and when the run was in it."""
    planned = {p.name.value: p for p in view.project.phases}
    actual: dict[str, tuple[datetime, datetime, bool]] = {}
    for span in view.spans:
        if span.lane == "phase":
            first = actual.get(span.label)
            start = first[0] if first else span.start
            actual[span.label] = (start, span.end, span.outcome == "current")
    order = [p.value for p in PhaseName]
    names = sorted(planned.keys() | actual.keys(), key=lambda n: (order.index(n) if n in order else len(order), n))
    rows = []
    for name in names:
        plan = planned.get(name)
        dates = "not planned"
        if plan is not None:
            dates = str(plan.start) if plan.start == plan.end else f"{plan.start} to {plan.end}"
        run = "not entered"
        if name in actual:
            start, end, current = actual[name]
            run = f"since {when(start)}" if current else format_period(start, end)
        rows.append({"phase": _words(name), "planned": dates, "in this run": run})
    return tuple(rows)


def _milestones(milestones: Sequence[MilestoneView]) -> ReportSection:
    if not milestones:
        return ReportSection("Milestones", paragraphs=("The project file sets no milestones.",))
    rows = []
    for m in milestones:
        if m.reached_at is not None:
            seen = f"reached {when(m.reached_at)}"
        elif m.projected is not None:
            seen = f"projected {when(m.projected)}"
        else:
            seen = "no projection yet"
        rows.append({"milestone": m.name, "due": str(m.due), "state": m.state.value, "reached or projected": seen})
    return ReportSection("Milestones", table=tuple(rows))


def _budget(budget: BudgetView | None) -> ReportSection:
    if budget is None:
        return ReportSection("Budget", paragraphs=("The project file sets no budget.",))
    currency = budget.currency
    paragraphs = [
        f"{money(budget.spent, currency)} spent of {money(budget.planned, currency)} planned "
        f"({percent(budget.percent_spent)})."
    ]
    if budget.forecast is None:
        paragraphs.append("Forecast at completion: not yet (no host-step is verified, so there is no cost per step).")
    else:
        margin = budget.planned - budget.forecast
        verdict = (
            f"over the budget by {money(-margin, currency)}"
            if margin < 0
            else f"within the budget ({money(margin, currency)} to spare)"
        )
        paragraphs.append(f"Forecast at completion: {money(budget.forecast, currency)}, {verdict}.")
    if budget.hours_by_role:
        # As a duration: the run's own bookings are seconds of work, which "0.0 hours" would hide.
        hours = ", ".join(f"{_words(role)} {duration(h * 3600)}" for role, h in sorted(budget.hours_by_role.items()))
        paragraphs.append(f"Team time booked: {hours}.")
    categories = list(dict.fromkeys([*budget.planned_by_category, *budget.spent_by_category]))
    planned, spent = budget.planned_by_category, budget.spent_by_category
    rows = [
        _budget_row(name, planned.get(name, Decimal(0)), spent.get(name), currency)
        for name in categories
        if planned.get(name) or spent.get(name)  # no row of zeros
    ]
    rows.append(_budget_row("total", budget.planned, budget.spent, currency))
    return ReportSection("Budget", paragraphs=tuple(paragraphs), table=tuple(rows))


def _budget_row(category: str, planned: Decimal, spent: Decimal | None, currency: str) -> dict[str, str]:
    spent = spent if spent is not None else Decimal(0)
    share = percent(float(100 * spent / planned)) if planned else "not planned"
    return {
        "category": category,
        "planned": money(planned, currency),
        "spent": money(spent, currency),
        "spent of plan": share,
    }


def _compliance(comparisons: Sequence[CheckComparison]) -> ReportSection:
    if not comparisons:
        return ReportSection("Compliance", paragraphs=("No audit is recorded yet.",))
    paragraphs = []
    for step in dict.fromkeys(c.step for c in comparisons):
        checks = [c for c in comparisons if c.step == step]
        hosts = max(c.hosts for c in checks)
        before = sorted({h for c in checks for h in c.failing_before})
        after_audited = all(c.failing_after is not None for c in checks)
        after = sorted({h for c in checks for h in c.failing_after or ()})
        line = f"Step `{step}`: {len(before)} of {plural(hosts, 'host')} failed a check before the change"
        line += f"; {len(after)} after it." if after_audited else "; not re-audited yet."
        paragraphs.append(line)
    rows = tuple(
        {
            "step": c.step,
            "check": c.check,
            "hosts failing before": _hosts_failing(c.failing_before, c.hosts),
            "hosts failing after": (
                _hosts_failing(c.failing_after, c.hosts) if c.failing_after is not None else "not re-audited"
            ),
        }
        for c in comparisons
    )
    return ReportSection("Compliance", paragraphs=tuple(paragraphs), table=rows)


def _risks(risks: Sequence[RiskView], open_risks: Sequence[RiskView]) -> ReportSection:
    closed = len(risks) - len(open_risks)
    materialized = sum(1 for r in open_risks if r.materialized)
    if not open_risks:
        summary = "No open risks" + (f" ({plural(closed, 'risk')} closed)." if closed else ".")
        return ReportSection("Open risks", paragraphs=(summary,))
    summary = f"{plural(len(open_risks), 'open risk')}, {materialized or 'none'} materialized"
    summary += f"; {closed} closed." if closed else "."
    rows = tuple(
        {
            "risk": r.id,
            "title": r.title,
            "likelihood x impact": f"{r.likelihood} x {r.impact}",
            "owner": r.owner,
            "status": ("materialized" if r.materialized else "open") + (f": {r.note}" if r.note else ""),
            "source": r.source,
        }
        for r in open_risks
    )
    return ReportSection("Open risks", paragraphs=(summary,), table=rows)
