"""The generic project flow: audit -> plan -> approval -> batches (canary first) -> re-audit -> closure.

Thin by design: each task wraps one call to ``itpm.project_run.ProjectRun`` and the flow only orders them. The
project log is the durable record: a resumed run (same ``run_id``) skips what it says is done, and Prefect's
cache plays no part in that (tasks use NO_CACHE).

What the Prefect UI shows: a flow run named after the project, tagged with project, kind and environment;
task runs per step and per batch (never per host); a progress artifact, a host-by-step table and a markdown
status report, updated after every batch.
"""

from __future__ import annotations

import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import cast
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType, FlowRunFilterTags
from prefect.client.schemas.objects import StateType
from prefect.runtime import flow_run as current_flow_run
from prefect.states import Crashed
from prefect.utilities.annotations import quote

from flows.gate import await_approval
from flows.run_tag import run_tag
from flows.secrets import PrefectSecrets
from itpm.errors import ItpmError
from itpm.interrupts import Interrupted, stop_on_signals
from itpm.log.events import NoticeSent, now
from itpm.models.project import PhaseName
from itpm.notify.stakeholders import StakeholderNotifier
from itpm.project_file import find_repo_root, load_project
from itpm.project_run import BatchOutcome, ProjectRun, RunEnd
from itpm.reports.markdown_report import render_markdown, section_markdown
from itpm.reports.project_view import ProjectView, project_view
from itpm.reports.run_report import run_report
from itpm.reports.run_status import host_rows, step_rows
from itpm.rollout import Batch, Verdict
from itpm.run_record import prior_spend
from itpm.settings import load_settings

__all__ = ["RolloutHalted", "RunRejected", "project_flow", "run_tags"]


class RolloutHalted(ItpmError):
    """A batch failed past its tolerance; the run stopped (after rolling the batch back). Carries the outcome."""

    def __init__(self, run_id: str, outcome: BatchOutcome, reason: str, next_steps: str) -> None:
        super().__init__(f"run {run_id} halted at {outcome.batch.label}: {reason}", fix=next_steps)
        self.outcome = outcome


class RunRejected(ItpmError):
    """An approver rejected a step; nothing of it was changed."""


def run_tags(project_name: str, kind: str, environment: str, run_id: str) -> list[str]:
    """Return the tags of a project's flow run: ``['project:demo', 'kind:compliance', 'env:lab', 'itpm-run:...']``."""
    return [f"project:{project_name}", f"kind:{kind}", f"env:{environment}", run_tag(run_id)]


def _end_stale_flow_runs(client: SyncPrefectClient, run_id: str, current: UUID) -> int:
    """Mark earlier flow runs of ``run_id`` that never ended as Crashed; return how many.

    A flow process killed outright leaves its flow run Running (or Paused at an approval gate) in Prefect for
    good. Left so, the UI shows a dead run as working, and ``itpm approve`` could answer the dead run's gate
    instead of the one its resumption waits at.
    """
    unfinished = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            tags=FlowRunFilterTags(all_=[run_tag(run_id)]),
            state=FlowRunFilterState(
                type=FlowRunFilterStateType(
                    not_any_=[StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED, StateType.CRASHED]
                )
            ),
        )
    )
    stale = [earlier for earlier in unfinished if earlier.id != current]
    for earlier in stale:
        client.set_flow_run_state(
            earlier.id,
            Crashed(message=f"its flow process stopped without ending it; flow run {current} resumed run {run_id}"),
            force=True,
        )
    return len(stale)


def _flow_run_name() -> str:
    parameters = current_flow_run.parameters
    try:
        name = load_project(Path(parameters["project_file"])).name
    except ItpmError:
        name = Path(parameters["project_file"]).stem
    return f"{name} {parameters.get('run_id') or 'new run'}"


def _untraversed(run: ProjectRun) -> ProjectRun:
    """Return ``run`` marked so that Prefect hands it to a task without walking through it.

    Prefect visits every value inside a task's arguments when it starts the task run (looking for futures and
    states to wait for), and a ProjectRun holds the whole inventory, every host's variables included: each task
    run cost about 2 ms per host (0.45 s per task at 200 hosts, with batches of 50: growing as hosts squared
    over a rollout; bench/scale.py). ``quote`` skips that walk; the task still gets the ProjectRun itself.
    """
    return cast(ProjectRun, quote(run))  # the task's parameter is the ProjectRun; quote only marks the argument


@task(name="audit", task_run_name="audit {step_name} ({stage})", cache_policy=NO_CACHE)
def audit_step(run: ProjectRun, step_name: str, stage: str) -> int:
    """Run a step's checks before (or after) the change; return how many hosts did not pass."""
    result = run.audit(run.project.step(step_name), "before" if stage == "before" else "after")
    return len(result.failed)


@task(name="plan", task_run_name="plan {step_name}", cache_policy=NO_CACHE)
def plan_step(run: ProjectRun, step_name: str) -> int:
    """Check mode + diff of a step; return how many hosts would change."""
    return len(run.plan(run.project.step(step_name)).changed)


@task(name="batch", task_run_name="{label}", cache_policy=NO_CACHE)
def run_batch(run: ProjectRun, step_name: str, batch: Batch, label: str) -> BatchOutcome:
    """Apply, verify and judge one batch under host locks (and roll it back if it halts the rollout)."""
    logger = get_run_logger()

    def waiting(holders: dict[str, str]) -> None:
        logger.warning(
            "waiting for hosts locked by other runs: %s", ", ".join(f"{h} ({r})" for h, r in holders.items())
        )

    return run.run_batch(run.project.step(step_name), batch, on_wait=waiting)


@task(name="move hosts", task_run_name="move verified hosts to their group", cache_policy=NO_CACHE)
def move_hosts_step(run: ProjectRun) -> int:
    """Move the hosts every step verified to the project's target group; return how many moved."""
    moved = run.move_verified_hosts()
    return len(moved.hosts) if moved else 0


class _Board:
    """The run's artifacts in the Prefect UI, rebuilt from the project log after every change."""

    def __init__(self, run: ProjectRun, spent_before: Decimal) -> None:
        self.run = run
        self.key = f"itpm-{run.project.name}"
        self.prior_spend = spent_before  # what earlier runs of the project spent: read once, it does not change
        progress_id = create_progress_artifact(
            progress=0.0, key=f"{self.key}-progress", description=f"{run.project.title}: host-steps verified"
        )
        assert isinstance(progress_id, UUID)  # called from a sync flow: Prefect returns the value, not a coroutine
        self.progress_id = progress_id

    def update(self, final: bool = False) -> ProjectView:
        """Refresh the progress artifact, and the tables and status once there is something to show; return the view."""
        view = self._view()
        status = view.status
        update_progress_artifact(self.progress_id, view.percent_complete)
        if final or status.verified or status.problems:
            create_table_artifact(
                table=host_rows(status),
                key=f"{self.key}-hosts",
                description=f"{self.run.project.title}: each host in each step",
            )
            for step in status.steps:
                create_table_artifact(
                    table=step_rows(status, step), key=f"{self.key}-step-{step}", description=f"Step {step}: each host"
                )
            create_markdown_artifact(
                markdown=render_markdown(view), key=f"{self.key}-status", description="Status report"
            )
        return view

    def _view(self) -> ProjectView:
        """Return the run's view from the events in memory, with the notices logged beside the run (re-read)."""
        run = self.run
        # Notices are logged by their own thread, straight to the log: the run's memory does not hold them.
        notices = run.log.events(run.run_id, kinds=["notice_sent"])
        events = [e for e in run.history() if not isinstance(e, NoticeSent)] + notices
        view = project_view(run.project, events, as_of=now(), prior_spend=self.prior_spend)
        return replace(view, chain_head=run.log.chain_head(run.run_id))

    def close(self, view: ProjectView) -> Path:
        """Attach the retrospective and the next steps, and write the HTML report; return the report's path."""
        report = run_report(view, self.run.history(), self.run.inventory)
        if report.compliance:
            create_markdown_artifact(
                markdown="# Compliance\n\n" + "\n".join(section_markdown(s) for s in report.compliance),
                key=f"{self.key}-compliance",
                description=f"{self.run.project.title}: each control before and after, findings with evidence",
            )
        create_markdown_artifact(
            markdown="# Retrospective\n\n" + "\n".join(section_markdown(s) for s in report.retrospective),
            key=f"{self.key}-retrospective",
            description=f"{self.run.project.title}: planned vs actual, what failed, rework, approvals, risks",
        )
        create_markdown_artifact(
            markdown="# Next steps\n\n" + "\n".join(section_markdown(s) for s in report.next_steps),
            key=f"{self.key}-next-steps",
            description=f"{self.run.project.title}: what to do next, highest impact first",
        )
        return report.write(self.run.settings.reports_dir).html


def _close(run: ProjectRun, board: _Board, status: RunEnd) -> ProjectView:
    """Log the end of the run, refresh its artifacts, write retrospective, next steps and report; return the view."""
    run.finish(status)
    view = board.update(final=True)
    get_run_logger().info("report: %s", board.close(view))
    return view


@flow(name="itpm-project", flow_run_name=_flow_run_name, persist_result=False)
def project_flow(
    project_file: str,
    run_id: str | None = None,
    requester: str = "prefect-deployment",
    dry_run: bool = False,
    emergency: str = "",
) -> str:
    """Run (or resume) a project; return ``completed``, ``dry_run`` or raise RolloutHalted / RunRejected.

    Without ``run_id`` (a run started from its deployment in the UI) the run gets a new id. ``emergency`` (a
    reason) makes it an emergency change: its approval gates are skipped, and it is flagged until reviewed.
    """
    run = ProjectRun.open(Path(project_file), load_settings(), requester=requester, run_id=run_id)
    spent_before = prior_spend(run.log, run.project.name, run.run_id)  # for the notices' briefings and the board
    run.notifier = StakeholderNotifier(
        run.project,
        run.run_id,
        events=lambda: run.record_keeper.events,
        record=run.log.append,
        base_dir=find_repo_root(run.project_file),
        secrets=PrefectSecrets(),
        links=[link for link in (current_flow_run.ui_url,) if link],
        prior_spend=spent_before,
    )
    # Ctrl-C or SIGTERM (a Prefect cancellation too) stops the run wherever it is: Ansible ended, where it stopped
    # logged, locks and lease released; ``itpm resume`` carries on from the log.
    with stop_on_signals():
        try:
            outcome = _run(run, dry_run, spent_before, emergency)
        except Interrupted as stop:
            run.stop(stop.signal_name)
            get_run_logger().warning("run %s %s", run.run_id, str(stop.for_run(run.run_id)).replace("\n", ";"))
            raise stop.for_run(run.run_id) from None
        except BaseException:
            run.abandon()  # never masks the failure being raised (a locked log cannot release locks either)
            raise
        run.close()  # idempotent: after _close, only what a dry run or a completed run still holds
        return outcome


def _run(run: ProjectRun, dry_run: bool, spent_before: Decimal, emergency: str = "") -> str:
    """Order the run's phases (see ``project_flow``)."""
    run_id, project = run.run_id, run.project
    if emergency:
        run.check_emergency(emergency, dry_run=dry_run)  # refused before the run starts: bad input changes nothing
    run.hold.take_lease()  # before anything else: a second resume must not mark the live attempt's flow run Crashed
    with get_client(sync_client=True) as client:
        flow_run_id = current_flow_run.id
        if flow_run_id:
            tags = {*current_flow_run.tags, *run_tags(project.name, project.kind.value, project.environment, run_id)}
            client.update_flow_run(UUID(flow_run_id), tags=sorted(tags))
            _end_stale_flow_runs(client, run_id, UUID(flow_run_id))
    board = _Board(run, spent_before)
    run.start(dry_run=dry_run)
    if emergency:
        run.declare_emergency(emergency)
    run.enter_phase(PhaseName.INITIATION)
    run.enter_phase(PhaseName.PLANNING)
    for step in project.steps:
        if not run.baseline_taken(step):  # a resumption keeps the baseline of the run's first audit
            audit_step(_untraversed(run), step.name, "before")
        plan_step(_untraversed(run), step.name)
    if dry_run:
        _close(run, board, RunEnd.DRY_RUN)
        return "dry_run"

    run.enter_phase(PhaseName.EXECUTION)
    for step in project.steps:
        if run.approval_needed(step) and not run.skip_gate(step) and not await_approval(run, step):
            _close(run, board, RunEnd.REJECTED)
            raise RunRejected(f"step {step.name} of run {run_id} was rejected", fix="see the approval comment")
        for batch in run.batches(step):
            run.wait_for_window(step)
            outcome = run_batch(_untraversed(run), step.name, batch, batch.label)
            board.update()
            if outcome.verdict is Verdict.HALTED:
                status = _close(run, board, RunEnd.HALTED).status
                raise RolloutHalted(run_id, outcome, status.halt_reason, status.next_steps)
            if step.strategy.pause_seconds and not outcome.skipped:
                time.sleep(step.strategy.pause_seconds)

    run.enter_phase(PhaseName.MONITORING_AND_CONTROL)
    for step in project.steps:
        audit_step(_untraversed(run), step.name, "after")
    run.enter_phase(PhaseName.CLOSURE)
    move_hosts_step(_untraversed(run))
    _close(run, board, RunEnd.COMPLETED)
    return "completed"
