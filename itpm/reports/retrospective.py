"""The retrospective and the next-steps analysis of a run, from its log events and the PM's view (pure).

Retrospective: planned vs actual time and cost, what failed and why (the tasks and checks that failed most),
hosts that needed rework or a rollback, approvals and how long they waited (or the gates an emergency change
skipped, and its review), risks that materialized.

Next steps: what is still non-compliant, hosts to revisit, risks still open, and recommendations ranked by
impact, each with the command that acts on it.

>>> [s.title for s in retrospective(view, events)]  # doctest: +SKIP
['Time: planned vs actual', 'Cost: planned vs actual', 'What failed and why', ...]
>>> next_steps(view, events)[0]  # doctest: +SKIP
Recommendation(impact=104, text='Restore web-2 by hand: its rollback failed, so its state is unknown ...')
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from itpm.log.events import (
    ApprovalDecided,
    Event,
    HostApplied,
    HostVerified,
    RolledBack,
    RunHalted,
    StepAudited,
)
from itpm.models.failures import HostFailure
from itpm.reports.emergency_flag import emergency_flag
from itpm.reports.project_view import MilestoneState, ProjectView
from itpm.reports.run_status import HostStepState
from itpm.reports.section import ReportSection
from itpm.reports.wording import duration, last_line, percent, plural, when
from itpm.signing.instructions import how_to_review

__all__ = ["Recommendation", "next_steps", "next_steps_sections", "retrospective"]

_TOP = 5  # failures listed by name; the rest are counted


@dataclass(frozen=True)
class Recommendation:
    """Something to do next; a higher ``impact`` comes first (hosts in an unknown state before paperwork)."""

    impact: int
    text: str


def retrospective(view: ProjectView, events: Sequence[Event]) -> tuple[ReportSection, ...]:
    """Return the retrospective's sections: time, cost, failures, rework, approvals, risks."""
    return (
        _time(view),
        _cost(view),
        _failures(events),
        _rework(events),
        _approvals(view, events),
        _risks_materialized(view),
    )


def _time(view: ProjectView) -> ReportSection:
    phases = view.project.phases
    planned = (
        f"Planned: {phases[0].start} to {max(p.end for p in phases)}, execution done by {view.planned_finish}."
        if phases
        else "No phases were planned in the project file."
    )
    actual = (
        f"Actual: the run started {when(view.started_at)} and took {duration(view.elapsed.total_seconds())}; "
        + view.schedule_sentence
        + "."
        if view.started_at
        else "Actual: the run has not started."
    )
    rows = tuple(
        {
            "milestone": m.name,
            "due": str(m.due),
            "outcome": m.state.value,
            "when": when(m.reached_at) if m.reached_at else (when(m.projected) + " (projected)" if m.projected else ""),
        }
        for m in view.milestones
    )
    return ReportSection("Time: planned vs actual", paragraphs=(planned, actual), table=rows)


def _cost(view: ProjectView) -> ReportSection:
    budget = view.budget
    if budget is None:
        return ReportSection("Cost: planned vs actual", paragraphs=("The project file has no budget.",))
    money = budget.currency
    lines = [
        f"Spent {money} {budget.spent:,.2f} of {money} {budget.planned:,.2f} planned ({percent(budget.percent_spent)})"
        + (f"; forecast at completion {money} {budget.forecast:,.2f}." if budget.forecast is not None else ".")
    ]
    if budget.hours_by_role:
        lines.append(
            "Team time: "  # as a duration: the run's own bookings are seconds of work, which "0.0 hours" would hide
            + ", ".join(
                f"{role.replace('_', ' ')} {duration(h * 3600)}" for role, h in sorted(budget.hours_by_role.items())
            )
            + "."
        )
    spent = {name: amount for name, amount in budget.spent_by_category.items() if amount}
    categories = dict.fromkeys([*budget.planned_by_category, *spent])
    rows = tuple(
        {
            "item": name,
            "planned": f"{money} {budget.planned_by_category.get(name, 0):,.2f}",
            "actual": f"{money} {budget.spent_by_category.get(name, 0):,.2f}",
        }
        for name in categories
    )
    return ReportSection("Cost: planned vs actual", paragraphs=tuple(lines), table=rows)


def _failures(events: Sequence[Event]) -> ReportSection:
    tasks: Counter[tuple[str, str]] = Counter()
    example: dict[tuple[str, str], str] = {}
    checks: Counter[tuple[str, str]] = Counter()
    for entry in events:
        if isinstance(entry, HostApplied) and entry.status in ("failed", "unreachable"):
            key = (entry.step or "", entry.failed_task or entry.status)
            tasks[key] += 1
            example.setdefault(key, f"{entry.host}: {last_line(entry.message) or entry.status}")
        elif isinstance(entry, HostVerified) and not entry.passed:
            for failure in entry.failures:
                checks[(entry.step or "", failure.check)] += 1
                example.setdefault((entry.step or "", "check " + failure.check), f"{entry.host}: {failure.summary}")
    if not tasks and not checks:
        return ReportSection("What failed and why", paragraphs=("No task or check failed during the rollout.",))
    rows = [
        {"step": step, "what failed": f"task {task}", "hosts": str(n), "example": example[(step, task)]}
        for (step, task), n in tasks.most_common(_TOP)
    ] + [
        {"step": step, "what failed": f"check {check}", "hosts": str(n), "example": example[(step, "check " + check)]}
        for (step, check), n in checks.most_common(_TOP)
    ]
    return ReportSection("What failed and why", table=tuple(rows))


def _rework(events: Sequence[Event]) -> ReportSection:
    applies: Counter[tuple[str, str]] = Counter(
        (e.step or "", e.host or "") for e in events if isinstance(e, HostApplied)
    )
    rows = [
        {"step": step, "host": host, "what": f"applied {n} times"}
        for (step, host), n in sorted(applies.items())
        if n > 1
    ]
    for entry in events:
        if isinstance(entry, RolledBack):
            rows += [{"step": entry.step or "", "host": h, "what": f"rolled back ({entry.batch})"} for h in entry.ok]
            rows += [
                {"step": entry.step or "", "host": h, "what": f"rollback FAILED: {why}"}
                for h, why in entry.failed.items()
            ]
    if not rows:
        return ReportSection(
            "Rework and rollbacks", paragraphs=("Every host was applied once; nothing was rolled back.",)
        )
    return ReportSection("Rework and rollbacks", table=tuple(rows))


def _approvals(view: ProjectView, events: Sequence[Event]) -> ReportSection:
    decided = [e for e in events if isinstance(e, ApprovalDecided)]
    flag = (emergency_flag(view.status),) if view.status.emergency else ()
    if not decided:
        return ReportSection("Approvals", paragraphs=flag or ("No step needed an approval.",))
    rows = tuple(
        {
            "step": e.step or "",
            "who": e.approver,
            "decision": e.decision,
            "proof": f"signed ({e.signer_key})" if e.signed else "unsigned",
            "waited": duration(e.waited_s) if e.decision != "refused" else "",
            "comment": e.reason or e.comment,
        }
        for e in decided
    )
    return ReportSection("Approvals", paragraphs=flag, table=rows)


def _risks_materialized(view: ProjectView) -> ReportSection:
    happened = [r for r in view.risks if r.materialized]
    if not happened:
        return ReportSection("Risks that materialized", paragraphs=("None of the project's risks materialized.",))
    return ReportSection(
        "Risks that materialized",
        bullets=tuple(
            f"{r.id} {r.title} (owner {r.owner}; {'still open' if r.open else 'closed'}): {r.note}" for r in happened
        ),
    )


# -- next steps --------------------------------------------------------------------------------------------------


def next_steps(view: ProjectView, events: Sequence[Event]) -> tuple[Recommendation, ...]:
    """Return what to do next, highest impact first."""
    status, run = view.status, view.status.run_id
    found: list[Recommendation] = []
    for entry in events:
        if isinstance(entry, RolledBack) and entry.failed:
            hosts = ", ".join(entry.failed)
            found.append(
                Recommendation(
                    100 + len(entry.failed),
                    f"Restore {hosts} by hand: the rollback of {entry.batch} failed, so their state is unknown "
                    f"(`itpm log {run} --host {next(iter(entry.failed))}`).",
                )
            )
    halts = [e for e in events if isinstance(e, RunHalted)]
    if status.finished == "halted" and halts:
        found.append(Recommendation(90, f"Fix the cause of the halt ({halts[-1].reason}), then `itpm resume {run}`."))
    if status.waiting_for_approval:
        found.append(
            Recommendation(
                80, f"Approve or reject step {status.waiting_for_approval}: `itpm approve {run} --as <login>`."
            )
        )
    if status.review_pending and status.finished is not None:
        found.append(
            Recommendation(
                85,
                f"Review the emergency change ({status.emergency}): it skipped the gates of "
                f"{', '.join(status.gates_skipped) or 'no step yet'}; `{how_to_review(run)}`.",
            )
        )
    unreachable = sorted({e.host or "" for e in events if isinstance(e, HostApplied) and e.status == "unreachable"})
    if unreachable:
        found.append(
            Recommendation(
                60 + len(unreachable),
                f"Bring back {', '.join(unreachable)}: unreachable during the rollout (`itpm lab status` on the lab).",
            )
        )
    for step, check, failing in _non_compliant(events):
        found.append(
            Recommendation(
                50 + len(failing),
                f"Remediate {check} of step {step} on {plural(len(failing), 'host')}: {', '.join(failing)}.",
            )
        )
    budget = view.budget
    if budget is not None and budget.over_budget:
        found.append(
            Recommendation(45, f"Re-plan the budget: the forecast exceeds {budget.currency} {budget.planned:,.2f}.")
        )
    found += [
        Recommendation(45, f"Re-plan milestone {m.name!r} (due {m.due}): it is {m.state.value}.")
        for m in view.milestones
        if m.state in (MilestoneState.AT_RISK, MilestoneState.OVERDUE)
    ]
    for risk in view.open_risks:
        if risk.materialized:
            found.append(
                Recommendation(
                    40 + risk.severity,
                    f"Review risk {risk.id} ({risk.title}) with {risk.owner}: it materialized ({risk.note}); "
                    f"close it with `itpm risk {run} close {risk.id}` once handled.",
                )
            )
        elif risk.severity >= 6:  # noqa: PLR2004 - high x medium or worse deserves a look before closing
            found.append(
                Recommendation(10 + risk.severity, f"Keep watching risk {risk.id} ({risk.title}): still open.")
            )
    if status.finished == "completed" and not found:
        found.append(
            Recommendation(5, "Close the project: every host-step is verified and the re-audit found nothing.")
        )
    return tuple(sorted(found, key=lambda r: -r.impact))


def _non_compliant(events: Sequence[Event]) -> list[tuple[str, str, list[str]]]:
    """Return (step, check, hosts) for each check still failing, as the log last saw each host.

    A host's latest word is its latest audit, or its verification after an apply since; a rollback puts it back
    to what the audit before the change found.
    """
    before: dict[str, dict[str, list[HostFailure]]] = {}  # step -> host -> its checks that did not pass
    latest: dict[str, dict[str, list[HostFailure]]] = {}
    for entry in events:
        step = entry.step or ""
        if isinstance(entry, StepAudited):
            audited = {h: list(lines) for h, lines in entry.failed.items()} | {h: [] for h in entry.passed}
            latest[step] = audited
            if entry.stage == "before":
                before[step] = dict(audited)
        elif isinstance(entry, HostVerified) and entry.host is not None:
            latest.setdefault(step, {})[entry.host] = list(entry.failures)
        elif isinstance(entry, RolledBack):
            for host in entry.hosts:
                latest.setdefault(step, {})[host] = before.get(step, {}).get(host, [])
    found = []
    for step, hosts in latest.items():
        by_check: dict[str, list[str]] = {}
        for host, failures in sorted(hosts.items()):
            for failure in failures:
                by_check.setdefault(failure.check, []).append(host)
        found += [(step, check, failing) for check, failing in sorted(by_check.items())]
    return found


def next_steps_sections(view: ProjectView, events: Sequence[Event]) -> tuple[ReportSection, ...]:
    """Return the next-steps analysis: recommendations, what is non-compliant, hosts to revisit, open risks."""
    status = view.status
    revisit = [
        {"host": host, "step": step, "state": state.value, "why": status.problems.get((step, host), "")}
        for (step, host), state in sorted(status.states.items())
        if state in (HostStepState.FAILED, HostStepState.ROLLED_BACK)
    ]
    pending = sum(
        1
        for step in status.steps
        for host in status.hosts_of(step)
        if status.states.get((step, host), HostStepState.PENDING) is HostStepState.PENDING
    )
    non_compliant = _non_compliant(events)
    return (
        ReportSection(
            "Recommendations, highest impact first",
            bullets=tuple(r.text for r in next_steps(view, events)) or ("Nothing to do.",),
        ),
        ReportSection(
            "Still non-compliant",
            paragraphs=() if non_compliant else ("No host is known to fail a check.",),
            table=tuple(
                {"step": step, "check": check, "hosts": f"{len(hosts)}: {', '.join(hosts)}"}
                for step, check, hosts in non_compliant
            ),
        ),
        ReportSection(
            "Hosts to revisit",
            paragraphs=((f"{pending} host-steps not started yet.",) if pending else ())
            + (() if revisit else ("No host failed or was rolled back.",)),
            table=tuple(revisit),
        ),
        ReportSection(
            "Risks still open",
            bullets=tuple(
                f"{r.id} {r.title}: likelihood {r.likelihood}, impact {r.impact}, owner {r.owner}"
                + (" (materialized)" if r.materialized else "")
                for r in view.open_risks
            )
            or ("No open risks.",),
        ),
    )
