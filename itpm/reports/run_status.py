"""Where a project run stands, derived from its project log events: phase, hosts done per step, what failed.

Pure: events in, a ``RunStatus`` out. The flow turns it into Prefect artifacts, the CLI into a screen.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from itpm.log.events import (
    ApprovalDecided,
    ApprovalRequested,
    BatchStarted,
    Event,
    HostApplied,
    HostsExcluded,
    HostVerified,
    PhaseChanged,
    RolledBack,
    RunFinished,
    RunHalted,
    RunStarted,
)
from itpm.reports.wording import last_line, percent

__all__ = ["HostStepState", "RunStatus", "apply_event", "host_rows", "run_status", "step_rows", "summary_markdown"]


class HostStepState(StrEnum):
    """Where one host stands in one step."""

    PENDING = "pending"
    APPLYING = "applying"
    APPLIED = "applied, not yet verified"
    VERIFIED = "verified"
    FAILED = "failed"
    ROLLED_BACK = "rolled back"


@dataclass
class RunStatus:
    """A run as its log tells it."""

    run_id: str = ""
    project: str = ""
    title: str = ""
    requester: str = ""
    phase: str = "not started"
    finished: str = ""  # completed, halted, rejected, dry_run, failed; empty while running
    dry_run: bool = False
    steps: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    step_hosts: dict[str, list[str]] = field(default_factory=dict)  # each step's hosts (all hosts if absent)
    states: dict[tuple[str, str], HostStepState] = field(default_factory=dict)  # (step, host) -> state
    problems: dict[tuple[str, str], str] = field(default_factory=dict)  # (step, host) -> what failed
    waiting_for_approval: str = ""  # the step whose gate is open
    approvals: list[str] = field(default_factory=list)
    halt_reason: str = ""
    next_steps: str = ""

    def hosts_of(self, step: str) -> list[str]:
        """Return the hosts ``step`` changes."""
        return self.step_hosts.get(step, self.hosts)

    @property
    def total(self) -> int:
        """Return the number of host-steps in the run (each step on each of its hosts)."""
        return sum(len(self.hosts_of(step)) for step in self.steps)

    @property
    def verified(self) -> int:
        """Return how many host-steps are applied and verified."""
        return sum(1 for state in self.states.values() if state is HostStepState.VERIFIED)

    @property
    def progress_percent(self) -> float:
        """Return the share of host-steps verified, 0 to 100."""
        return 100.0 * self.verified / self.total if self.total else 0.0


def run_status(events: Iterable[Event]) -> RunStatus:
    """Fold a run's events, oldest first, into its status."""
    status = RunStatus()
    for entry in events:
        apply_event(status, entry)
    return status


def apply_event(status: RunStatus, entry: Event) -> None:  # noqa: PLR0912 - one branch per event kind
    """Fold one more event into ``status`` (for views that need the status after every event)."""
    key = (entry.step or "", entry.host or "")
    if isinstance(entry, RunStarted):
        status.run_id, status.project, status.title = entry.run_id, entry.project, entry.title
        status.requester, status.dry_run = entry.requester, entry.dry_run
        status.steps, status.hosts, status.finished = entry.steps, entry.hosts, ""
        status.step_hosts = entry.step_hosts
    elif isinstance(entry, PhaseChanged):
        status.phase = entry.phase
    elif isinstance(entry, ApprovalRequested):
        status.waiting_for_approval = entry.step or ""
    elif isinstance(entry, ApprovalDecided):
        status.approvals.append(
            f"{entry.step}: {entry.decision} by {entry.approver}"
            + (f" ({entry.reason or entry.comment})" if entry.reason or entry.comment else "")
        )
        if entry.decision != "refused":
            status.waiting_for_approval = ""
    elif isinstance(entry, BatchStarted):
        for host in entry.hosts:
            status.states[(entry.step or "", host)] = HostStepState.APPLYING
    elif isinstance(entry, HostApplied):
        failed = entry.status in ("failed", "unreachable")
        status.states[key] = HostStepState.FAILED if failed else HostStepState.APPLIED
        if failed:
            where = f" at {entry.failed_task}" if entry.failed_task else ""  # unreachable before any task: no task
            status.problems[key] = f"{entry.status}{where}: {last_line(entry.message)}"
    elif isinstance(entry, HostVerified):
        status.states[key] = HostStepState.VERIFIED if entry.passed else HostStepState.FAILED
        if entry.passed:  # fixed and resumed: what failed before no longer needs attention (the log keeps it)
            status.problems.pop(key, None)
        else:
            status.problems[key] = "; ".join(entry.failures) or "checks failed"
    elif isinstance(entry, RolledBack):
        for host in entry.hosts:
            status.states[(entry.step or "", host)] = HostStepState.ROLLED_BACK
    elif isinstance(entry, HostsExcluded):
        step = entry.step or ""
        status.step_hosts = {**status.step_hosts, step: [h for h in status.hosts_of(step) if h not in entry.hosts]}
        for host, earlier in entry.hosts.items():
            status.problems[(step, host)] = f"left out: did not pass step {earlier}"
    elif isinstance(entry, RunHalted):
        status.halt_reason, status.next_steps = entry.reason, entry.next_steps
    elif isinstance(entry, RunFinished):
        status.finished = entry.status
        if entry.status == "completed":
            status.halt_reason = status.next_steps = ""


def host_rows(status: RunStatus) -> list[dict[str, str]]:
    """Return one table row per host: its state in each step, and what needs attention."""
    rows = []
    for host in status.hosts:
        row = {"host": host}
        attention = []
        for step in status.steps:
            if host not in status.hosts_of(step):
                row[step] = "not in this step"
                continue
            row[step] = status.states.get((step, host), HostStepState.PENDING).value
            if (step, host) in status.problems:
                attention.append(f"{step}: {status.problems[(step, host)]}")
        row["needs attention"] = "; ".join(attention)
        rows.append(row)
    return rows


def step_rows(status: RunStatus, step: str) -> list[dict[str, str]]:
    """Return one table row per host of ``step``: its state there, and what failed if anything did."""
    return [
        {
            "host": host,
            "state": status.states.get((step, host), HostStepState.PENDING).value,
            "needs attention": status.problems.get((step, host), ""),
        }
        for host in status.hosts_of(step)
    ]


def summary_markdown(status: RunStatus, steps: Sequence[str] | None = None) -> str:
    """Return a short status report in plain words for the project manager."""
    state = status.finished or f"running ({status.phase})"
    lines = [
        f"# {status.title or status.project}",
        "",
        f"**Run** `{status.run_id}` requested by {status.requester or 'unknown'}: **{state}**"
        + (" (dry run: audit and plan only, nothing changed)" if status.dry_run else ""),
        "",
        f"**Progress**: {status.verified} of {status.total} host-steps verified ({percent(status.progress_percent)}).",
    ]
    for step in steps or status.steps:
        hosts = status.hosts_of(step)
        done = sum(1 for h in hosts if status.states.get((step, h)) is HostStepState.VERIFIED)
        failed = [h for h in hosts if status.states.get((step, h)) is HostStepState.FAILED]
        rolled = [h for h in hosts if status.states.get((step, h)) is HostStepState.ROLLED_BACK]
        line = f"- step **{step}**: {done} of {len(hosts)} hosts verified"
        if failed:
            line += f"; failed: {', '.join(failed)}"
        if rolled:
            line += f"; rolled back: {', '.join(rolled)}"
        lines.append(line)
    if status.waiting_for_approval:
        gate = status.waiting_for_approval
        lines += ["", f"**Waiting for approval** of step {gate}: `itpm approve {status.run_id}`."]
    if status.approvals:
        lines += ["", "**Approvals**: " + "; ".join(status.approvals)]
    if status.halt_reason:
        lines += ["", f"**Halted**: {status.halt_reason}", "", f"**Next**: {status.next_steps}"]
    return "\n".join(lines) + "\n"
