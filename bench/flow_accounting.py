"""Where one run of the project flow spends its time: itpm's work, the PM's board, and Prefect itself.

``instrument(timer)`` wraps, in this process, every call the flow (flows/project.py) makes that is worth telling
apart; ``FlowAccount.of(timer, wall_s, ...)`` sorts the calls of one flow run into categories by their own time
(call_timing: nothing counted twice):

- ``ansible``: playbook runs (apply, check mode + diff), ``itpm.execution.runner`` through ``ProjectRun``;
- ``checks``: pytest/testinfra runs (audits, per-batch verification);
- ``itpm bookkeeping``: the rest of ``ProjectRun``'s methods: the project log, locks, costs, risks, notices;
- ``board views``: what the flow computes only for its artifacts (the PM view, tables, markdown, the closing
  retrospective and report), itpm code that runs because the flow shows it in Prefect's UI;
- ``prefect artifacts``: Prefect's artifact calls (API round trips);
- ``prefect task runs``: each task call minus the work inside it: task-run creation, states, API calls;
- ``prefect flow run``: the flow's wall time outside any wrapped call: flow run start and end, tags, the
  flow body's own Python.

The first three are the work a run does with or without Prefect (``ProjectRun`` called directly does exactly
them); the rest is what running it as a Prefect flow adds: its overhead.
"""

from __future__ import annotations

from dataclasses import dataclass

from call_timing import CallTimer

import itpm.project_run
import itpm.reports.run_report
from itpm.project_run import ProjectRun

__all__ = ["OVERHEAD", "WORK", "FlowAccount", "instrument"]

WORK = ("ansible", "checks", "itpm bookkeeping")
OVERHEAD = ("board views", "prefect artifacts", "prefect task runs", "prefect flow run")

_PROJECT_RUN_METHODS = (
    "open",
    "start",
    "enter_phase",
    "baseline_taken",
    "audit",
    "plan",
    "approval_needed",
    "batches",
    "wait_for_window",
    "run_batch",
    "move_verified_hosts",
    "finish",
)
_TASKS = ("audit_step", "plan_step", "run_batch", "move_hosts_step")
_ARTIFACT_CALLS = (
    "create_progress_artifact",
    "update_progress_artifact",
    "create_table_artifact",
    "create_markdown_artifact",
)
_BOARD_VIEWS = (
    "view_of",
    "render_markdown",
    "section_markdown",
    "host_rows",
    "step_rows",
)
# The closing report's parts, called by itpm.reports.run_report (the one place the flow and itpm report share).
_REPORT_PARTS = ("retrospective", "next_steps_sections", "project_compliance", "write_report")


def instrument(timer: CallTimer) -> None:
    """Wrap the calls of the project flow with ``timer`` (undone when the timer's ``with`` block ends)."""
    # Imported here, not at the top: Prefect reads its settings (the API URL) from the environment when it is first
    # imported, and a benchmark points that environment at its own server only once it has started it.
    import flows.project  # noqa: PLC0415

    timer.wrap(itpm.project_run, "run_playbook", "ansible", "run_playbook")
    timer.wrap(itpm.project_run, "plan_playbook", "ansible", "plan_playbook")
    timer.wrap(itpm.project_run, "verify", "checks", "verify")
    for method in _PROJECT_RUN_METHODS:
        timer.wrap(ProjectRun, method, "itpm bookkeeping")
    for task in _TASKS:
        timer.wrap(flows.project, task, "prefect task runs", f"task {task}")
    for call in _ARTIFACT_CALLS:
        timer.wrap(flows.project, call, "prefect artifacts", call)
    for view in _BOARD_VIEWS:
        timer.wrap(flows.project, view, "board views", view)
    for part in _REPORT_PARTS:
        timer.wrap(itpm.reports.run_report, part, "board views", part)
    # The board's own code between those calls (reading the run's history for the closing sections).
    timer.wrap(flows.project._Board, "update", "board views", "board update")
    timer.wrap(flows.project._Board, "close", "board views", "board close")


@dataclass(frozen=True)
class FlowAccount:
    """One flow run's wall time by category, and its overhead split into a fixed part and a part per batch."""

    wall_s: float
    seconds: dict[str, float]  # category -> own seconds; together they make wall_s
    batches: int
    per_batch_s: float  # Prefect's task run of a batch plus the board update after it, on average
    fixed_s: float  # the overhead that is not per batch: flow start and end, other tasks, the closing board

    @classmethod
    def of(cls, timer: CallTimer, wall_s: float) -> FlowAccount:
        """Return the account of the flow run whose calls ``timer`` holds and that took ``wall_s`` in all."""
        seconds = {category: 0.0 for category in (*WORK, *OVERHEAD)}
        for category, own in timer.own_by_category().items():
            seconds[category] = seconds.get(category, 0.0) + own
        top_level = sum(call.wall_s for call in timer.calls if call.depth == 0)
        seconds["prefect flow run"] = wall_s - top_level
        batch_tasks = timer.named("task run_batch")
        updates = timer.named("board update")
        per_batch = sum(call.own_s for call in batch_tasks) + sum(call.wall_s for call in updates)
        batches = len(batch_tasks)
        return cls(
            wall_s=wall_s,
            seconds=seconds,
            batches=batches,
            per_batch_s=per_batch / batches if batches else 0.0,
            fixed_s=sum(seconds[c] for c in OVERHEAD) - per_batch,
        )

    @property
    def work_s(self) -> float:
        """Return the seconds of the work the run does without Prefect too."""
        return sum(self.seconds[c] for c in WORK)

    @property
    def overhead_s(self) -> float:
        """Return the seconds running it as a Prefect flow added."""
        return sum(self.seconds[c] for c in OVERHEAD)
