"""Where a project run stands, derived from its project log events: phase, hosts done per step, what failed.

Pure: events in, a ``RunState`` out. The flow turns it into Prefect artifacts, the CLI into a screen.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from itpm.log.events import Event
from itpm.reports.emergency_flag import emergency_flag
from itpm.reports.wording import percent
from itpm.run_state import HostStepState, RunState

__all__ = ["HostStepState", "RunState", "host_rows", "run_status", "step_rows", "summary_markdown"]


def run_status(events: Iterable[Event]) -> RunState:
    """Fold a run's events, oldest first, into its state (``RunState.of``, the engine's own fold)."""
    return RunState.of(events)


def host_rows(status: RunState) -> list[dict[str, str]]:
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


def step_rows(status: RunState, step: str) -> list[dict[str, str]]:
    """Return one table row per host of ``step``: its state there, and what failed if anything did."""
    return [
        {
            "host": host,
            "state": status.states.get((step, host), HostStepState.PENDING).value,
            "needs attention": status.problems.get((step, host), ""),
        }
        for host in status.hosts_of(step)
    ]


def summary_markdown(status: RunState, steps: Sequence[str] | None = None) -> str:
    """Return a short status report in plain words for the project manager."""
    state = status.finished.value if status.finished else f"running ({status.phase})"
    lines = [
        f"# {status.title or status.project}",
        "",
        f"**Run** `{status.run_id}` requested by {status.requester or 'unknown'}: **{state}**"
        + (" (dry run: audit and plan only, nothing changed)" if status.dry_run else ""),
        "",
        *([f"**{emergency_flag(status)}**", ""] if status.emergency else []),
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
