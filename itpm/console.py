"""Terminal rendering of itpm's results: per-host tables a person can act on, and a live event printer."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from itpm.execution.events import AnsibleEvent
from itpm.lab.status import HostState, LabStatus
from itpm.log.events import Event
from itpm.models.results import CheckOutcome, HostStatus, PlaybookResult, VerificationResult
from itpm.reports.emergency_flag import emergency_flag
from itpm.reports.project_view import MilestoneState, ProjectView
from itpm.reports.wording import duration, last_line, money, percent, plural, when

__all__ = [
    "LiveEvents",
    "event_line",
    "lab_table",
    "plan_text",
    "playbook_table",
    "project_screen",
    "verification_table",
]

_STATUS_STYLE = {
    HostStatus.OK: "green",
    HostStatus.CHANGED: "yellow",
    HostStatus.SKIPPED: "dim",
    HostStatus.FAILED: "bold red",
    HostStatus.UNREACHABLE: "bold magenta",
}


class LiveEvents:
    """An event callback that prints each task once and every host failure as it happens."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._last_task: str | None = None

    def __call__(self, event: AnsibleEvent) -> None:
        """Print the event if a person watching the run needs it."""
        if event.kind == "playbook_on_task_start" and event.task and event.task != self._last_task:
            self._last_task = event.task
            self.console.print(f"[dim]task[/dim] {event.task}")
        elif event.kind == "runner_on_failed" and not event.ignored:
            self.console.print(f"  [bold red]failed[/bold red] {event.host}: {event.message.splitlines()[0]}")
        elif event.kind == "runner_on_unreachable":
            self.console.print(f"  [bold magenta]unreachable[/bold magenta] {event.host}: {last_line(event.message)}")


def playbook_table(result: PlaybookResult) -> Table:
    """Return one row per host: status, task counts, duration, and the failed task with its message."""
    mode = "plan (check mode)" if result.check_mode else "apply"
    table = Table(
        title=f"{result.playbook} - {mode}, {len(result.hosts)} hosts, {result.duration_s:.1f} s, "
        f"strategy {result.strategy}, run {result.run_id}",
        title_justify="left",
        caption=f"not using mitogen: {result.strategy_note}" if result.strategy_note else None,
    )
    for column in ("host", "status", "ok", "changed", "time", "failed task: message"):
        table.add_column(column, justify="right" if column in ("ok", "changed", "time") else "left")
    for host, row in result.hosts.items():
        failure = ""
        if row.failure is not None:
            failure = f"{row.failure.task}: {last_line(row.failure.message)}"
            if row.failure.host_key_mismatch:
                failure += "\n(host key refused: if the host was rebuilt on purpose, update known_hosts)"
        table.add_row(
            host,
            f"[{_STATUS_STYLE[row.status]}]{row.status.value}[/]",
            str(row.ok_tasks),
            str(row.changed_tasks),
            f"{row.duration_s:.1f} s",
            failure,
        )
    return table


def plan_text(result: PlaybookResult) -> str:
    """Return the plan as text: per host, each task that would change it and its diff."""
    lines = []
    for host, changes in result.plan.items():
        if not changes:
            lines.append(f"{host}: no changes")
            continue
        lines.append(f"{host}: {len(changes)} change(s)")
        for change in changes:
            lines.append(f"  ~ {change.task}")
            lines.extend(f"      {line}" for line in change.diff.splitlines())
    return "\n".join(lines)


def verification_table(result: VerificationResult) -> Table:
    """Return one row per host: checks passed out of run, and each check that did not pass with its message."""
    table = Table(
        title=f"checks {', '.join(map(str, result.checks))} - {len(result.hosts)} hosts, {result.duration_s:.1f} s",
        title_justify="left",
    )
    for column in ("host", "passed", "not passed: message"):
        table.add_column(column)
    for host, checks in result.hosts.items():
        passed = sum(1 for c in checks.checks if c.outcome is CheckOutcome.PASSED)
        style = "green" if checks.ok else ("bold magenta" if checks.unreachable else "bold red")
        if checks.unreachable:
            detail = next(c.message for c in checks.failures if c.outcome is CheckOutcome.UNREACHABLE)
        else:
            detail = "\n".join(c.summary for c in checks.failures)
        table.add_row(host, f"[{style}]{passed}/{len(checks.checks)}[/]", detail)
    return table


def lab_table(status: LabStatus) -> Table:
    """Return one row per lab host: address, group and whether it answers SSH."""
    table = Table(title=f"lab '{status.name}' {status.subnet} - inventory {status.inventory}", title_justify="left")
    for column in ("host", "address", "group", "state"):
        table.add_column(column)
    for host in status.hosts:
        style = {HostState.UP: "green", HostState.SSHD_DOWN: "yellow", HostState.DOWN: "red"}[host.state]
        table.add_row(host.name, host.address, host.group, f"[{style}]{host.state.value}[/]")
    return table


def event_line(entry: Event) -> str:
    """Return one project log event as a line a person reads: time, what, where, and the essentials."""
    where = " ".join(part for part in (entry.batch or entry.step, entry.host) if part)
    data = entry.model_dump(exclude={"run_id", "project", "at", "step", "batch", "host", "kind"})
    details = ", ".join(f"{k}={_short(v)}" for k, v in data.items() if v not in ("", [], {}, None, 0, 0.0, False))
    return f"{entry.at:%Y-%m-%d %H:%M:%S} {entry.kind:<18} {where:<24} {details}".rstrip()


_DETAIL_WIDTH = 100  # characters of one detail in a log line; the full text stays in the log


def _short(value: object) -> str:
    text = _plain(value)
    first = text.splitlines()[0] if text else ""
    return first if len(first) <= _DETAIL_WIDTH else first[: _DETAIL_WIDTH - 3] + "..."


def _plain(value: object) -> str:
    """Return a detail in words and numbers, never a Python repr: ``_plain({'h1': ['a', 'b']}) == 'h1: a, b'``.

    Mappings become ``key: value; ...``, lists are joined (an empty one reads none), floats keep 3 significant
    figures (``24.3``), times drop their microseconds, booleans read yes or no.
    """
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_plain(item)}" for key, item in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(_plain(item) for item in value) or "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"  # noqa: PLR2004 - where .3g turns to 1e+03
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    return str(value)


_MILESTONE_STYLE = {
    MilestoneState.REACHED: "green",
    MilestoneState.REACHED_LATE: "yellow",
    MilestoneState.ON_TRACK: "green",
    MilestoneState.AT_RISK: "bold yellow",
    MilestoneState.OVERDUE: "bold red",
    MilestoneState.NOT_MEASURED: "dim",
}
_BAR_WIDTH = 40


def project_screen(view: ProjectView) -> RenderableType:
    """Return the PM's one-screen status: progress, schedule, milestones, budget, risks, what needs attention."""
    status = view.status
    state = status.finished or f"running, phase {status.phase}"
    filled = round(_BAR_WIDTH * view.percent_complete / 100)
    parts: list[RenderableType] = [
        Text.from_markup(
            f"[bold]{escape(view.project.title)}[/]  "
            + escape(f"run {status.run_id}  ({state}, requested by {status.requester})")
        ),
        Text.from_markup(
            f"[green]{'#' * filled}[/][dim]{'.' * (_BAR_WIDTH - filled)}[/] "
            f"{status.verified} of {status.total} host-steps verified ({percent(view.percent_complete)})"
        ),
        Text(
            f"Schedule: {view.schedule_sentence}; running for {duration(view.elapsed.total_seconds())}"
            + (f", {view.throughput_per_hour:.1f} host-steps per hour" if view.throughput_per_hour else "")
        ),
    ]
    if status.emergency:  # the flag stays on the screen until the change is reviewed, and says so after
        parts.append(Text(emergency_flag(status), style="bold red" if status.review_pending else "yellow"))
    if view.milestones:
        table = Table("milestone", "due", "state", "reached / projected", title="Milestones", title_justify="left")
        for m in view.milestones:
            moment = when(m.reached_at) or when(m.projected)
            table.add_row(escape(m.name), str(m.due), f"[{_MILESTONE_STYLE[m.state]}]{m.state.value}[/]", moment)
        parts.append(table)
    budget = view.budget
    if budget is not None:
        table = Table("budget", "planned", "spent", title="Budget", title_justify="left")
        for item in dict.fromkeys([*budget.planned_by_category, *budget.spent_by_category]):
            planned = budget.planned_by_category.get(item)
            table.add_row(
                escape(item),
                money(planned, budget.currency) if planned is not None else "",
                money(budget.spent_by_category.get(item, Decimal(0)), budget.currency),
            )
        style = "bold red" if budget.over_budget else "bold"
        table.add_row(
            f"[{style}]total[/]",
            money(budget.planned, budget.currency),
            f"[{style}]{money(budget.spent, budget.currency)} ({percent(budget.percent_spent)})[/]"
            + (f", forecast {money(budget.forecast, budget.currency)}" if budget.forecast is not None else ""),
        )
        parts.append(table)
    if view.open_risks:
        parts.append(
            Text(
                "Open risks: "
                + "; ".join(
                    f"{r.id} {r.title} ({'MATERIALIZED' if r.materialized else r.impact})" for r in view.open_risks
                )
            )
        )
    attention = view.attention
    parts.append(
        Text.from_markup("[bold red]Needs attention:[/]\n" + "\n".join(f"- {escape(line)}" for line in attention))
        if attention
        else Text.from_markup("[green]Nothing needs attention.[/]")
    )
    head = view.chain_head
    if head is not None:  # for an auditor to note and compare later
        parts.append(
            Text(
                f"Log chain: head {head.short} after {plural(head.chained, 'event')} "
                f"(itpm log verify {status.run_id} --head {head.short})",
                style="dim",
            )
        )
    return Group(*parts)
