"""The work of one project run, step by step, each outcome recorded in the project log (plain Python).

A Prefect flow (flows/project.py) orders these calls; tests call them directly. The run's state is the one fold
of its log (``itpm.run_state``): what a resumed run skips, whether a gate was approved, what a report shows, all
come from it. The pieces live in ``itpm.engine``: the ports to Ansible, testinfra, the log and the notifier,
the record and its reactions (costs, risks), scope, approvals and one batch's work.

    run = ProjectRun.open(Path("projects/baseline-rollout.yaml"), settings, requester="dana")
    run.start(dry_run=False)
    for step in run.project.steps:
        run.audit(step, "before"); run.plan(step)
        for batch in run.batches(step):
            outcome = run.run_batch(step, batch)
            if outcome.verdict is Verdict.HALTED: break
    run.reaudit(); run.finish(RunEnd.COMPLETED)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from itpm.engine import approvals
from itpm.engine.approvals import Answer, ApprovalRefused, check_approver
from itpm.engine.batch_work import BatchOutcome, BatchWork
from itpm.engine.change_window import wait_for_window
from itpm.engine.costs import CostBooking
from itpm.engine.defaults import AnsibleExecutor, LogJournal, TestinfraVerifier
from itpm.engine.emergency import check_declaration, declaration, skipped
from itpm.engine.findings import audited, planned
from itpm.engine.group_moves import move_passed_hosts
from itpm.engine.halt_notes import stop_note
from itpm.engine.ports import Executor, Notifier, Verifier
from itpm.engine.record import Reaction, RunRecord
from itpm.engine.risk_watch import RiskWatch
from itpm.engine.run_hold import RunHold
from itpm.engine.run_vars import RunVars
from itpm.engine.scope import excluded_hosts, pinned_scope, pinned_step_hosts, step_hosts
from itpm.execution.runner import EventCallback, new_run_id
from itpm.interrupts import deferred_signals
from itpm.inventory import Inventory, load_inventory
from itpm.log.events import (
    ApprovalDecided,
    ApprovalRequested,
    EmergencyDeclared,
    Event,
    HostsExcluded,
    HostsMoved,
    HostsWaited,
    PhaseChanged,
    RunFinished,
    RunStarted,
)
from itpm.log.locks import lock_key
from itpm.log.store import ProjectLog, ProjectLogError
from itpm.models.change_control import classify
from itpm.models.project import PhaseName, Project, Step
from itpm.models.results import PlaybookResult, VerificationResult
from itpm.models.standard import Standard
from itpm.models.statuses import RunEnd, Verdict
from itpm.project_file import load_project
from itpm.rollout import Batch, plan_batches, still_to_do
from itpm.run_record import RunNotFound, started_event
from itpm.run_state import RunState
from itpm.settings import Settings
from itpm.standard_file import load_standard

__all__ = [
    "Answer",
    "ApprovalRefused",
    "BatchOutcome",
    "ProjectRun",
    "RunEnd",
    "RunNotFound",
    "check_approver",
    "step_hosts",
]

logger = logging.getLogger(__name__)


@dataclass
class ProjectRun:
    """One run of a project: its inputs (read once), its record, and the ports it works through."""

    project_file: Path
    project: Project
    run_id: str
    requester: str
    settings: Settings
    log: ProjectLog
    inventory: Inventory
    on_event: EventCallback | None = None
    standard: Standard | None = None  # a compliance project's standard, read once when the run opens
    executor: Executor | None = None  # None: ansible-runner on the run's inventory
    verifier: Verifier | None = None  # None: testinfra on the run's inventory
    record_keeper: RunRecord = field(init=False, repr=False)  # the run's events, their fold, what reacts to them
    hold: RunHold = field(init=False, repr=False)  # the run's lease and host locks

    def __post_init__(self) -> None:
        self.executor = self.executor or AnsibleExecutor(self.inventory, self.settings, owner=self.run_id)
        self.verifier = self.verifier or TestinfraVerifier(self.inventory, self.settings)
        journal = LogJournal(self.log)
        reactions: list[Reaction] = [CostBooking(self.project, self.requester, journal), RiskWatch(self.project)]
        self.record_keeper = RunRecord(journal, self.run_id, reactions=reactions)
        self.hold = RunHold(self.log, self.run_id, self.settings.lock_lease_seconds)

    @classmethod
    def open(
        cls,
        project_file: Path,
        settings: Settings,
        *,
        requester: str,
        run_id: str | None = None,
        project: Project | None = None,
    ) -> ProjectRun:
        """Load the project (unless given, already parsed) and its inventory; a new run id unless continuing one."""
        project = project or load_project(project_file)
        return cls(
            project_file=project_file.resolve(),
            project=project,
            run_id=run_id or new_run_id(project.name),
            requester=requester,
            settings=settings,
            log=ProjectLog.for_settings(settings),
            inventory=load_inventory(project.scope.inventory),
            standard=load_standard(project.compliance.standard) if project.compliance else None,
        )

    @classmethod
    def reopen(cls, run_id: str, settings: Settings) -> ProjectRun:
        """Return the logged run ``run_id`` ready to resume (same project file, requester and id)."""
        first = started_event(ProjectLog.for_settings(settings), run_id)
        return cls.open(Path(first.project_file), settings, requester=first.requester, run_id=run_id)

    # -- the record --------------------------------------------------------------------------------------------

    @property
    def state(self) -> RunState:
        """Return the run's state, folded from its log and kept up to date as events are recorded."""
        return self.record_keeper.state

    @property
    def notifier(self) -> Notifier:
        """Return who is told about the run's events (nobody unless the caller wires stakeholders)."""
        return self.record_keeper.notifier

    @notifier.setter
    def notifier(self, notifier: Notifier) -> None:
        self.record_keeper.notifier = notifier

    def _common(self) -> dict[str, str]:
        return {"run_id": self.run_id, "project": self.project.name}

    def record(self, entry: Event) -> None:
        """Commit ``entry`` to the project log, fold it into the state, and let costs, risks and notices react."""
        self.record_keeper.record(entry)

    def history(self, *kinds: str) -> list[Event]:
        """Return this run's logged events (of the given kinds), oldest first; from memory, not the log."""
        events = self.record_keeper.events
        return [e for e in events if e.kind in kinds] if kinds else list(events)

    # -- scope -------------------------------------------------------------------------------------------------

    def scope_hosts(self) -> tuple[str, ...]:
        """Return the hosts the project may touch, as the run's first start found them in the inventory."""
        return pinned_scope(self.state, self.inventory, self.project)

    def step_hosts(self, step: Step) -> tuple[str, ...]:
        """Return the hosts a step changes: the scope, narrowed by the step's own pattern (pinned as above)."""
        return pinned_step_hosts(self.state, self.inventory, self.project, step)

    def excluded_hosts(self, step: Step) -> dict[str, str]:
        """Return the step's hosts that an earlier step of this run did not pass on: ``{'h5': 'burn-in'}``."""
        return excluded_hosts(self.state, self.inventory, self.project, step)

    def batches(self, step: Step) -> tuple[Batch, ...]:
        """Return the step's batches without the hosts earlier steps left out; logs those hosts once per step."""
        excluded = self.excluded_hosts(step)
        if excluded and step.name not in self.state.excluded:
            self.record(HostsExcluded(**self._common(), step=step.name, hosts=excluded))
        hosts = [h for h in self.step_hosts(step) if h not in excluded]
        return plan_batches(step.name, hosts, step.strategy)

    def done_hosts(self, step: Step) -> set[str]:
        """Return the step's hosts applied and verified by this run (a halted or rolled-back host is not done)."""
        return self.state.done(step.name)

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self, *, dry_run: bool = False) -> RunStarted:
        """Take the run's lease, then log the start (or resumption) of the run.

        Raises RunAlreadyActive when another process works the run. A resumption first ends the Ansible
        processes an earlier attempt of this run left on this machine: it is about to take over the same host
        locks (they are the run's own) and apply to the same hosts.
        """
        self.hold.take_lease()
        resumed = self.state.first_start is not None
        if resumed:
            assert self.executor is not None
            self.executor.end_leftovers()
        started = RunStarted(
            **self._common(),
            project_file=str(self.project_file),
            title=self.project.title,
            project_kind=self.project.kind.value,
            environment=self.project.environment,
            requester=self.requester,
            dry_run=dry_run,
            resumed=resumed,
            hosts=list(self.scope_hosts()),
            steps=[s.name for s in self.project.steps],
            step_hosts={s.name: list(self.step_hosts(s)) for s in self.project.steps},
            change_classes={s.name: classify(self.project, s).change_class.value for s in self.project.steps},
        )
        self.record(started)
        return started

    def enter_phase(self, phase: PhaseName) -> None:
        """Log that the run entered ``phase``."""
        self.record(PhaseChanged(**self._common(), phase=phase.value))

    def finish(self, status: RunEnd | str) -> None:
        """Log the end of the run, release its host locks and its lease, and deliver the last notices."""
        self.hold.locks.release()
        self.record(RunFinished(**self._common(), status=RunEnd(status)))
        self.close()

    def stop(self, why: str) -> None:
        """Log that the run stopped where it stood (``why``: 'SIGTERM'), release its locks, lease and notices.

        Resuming carries on from the log, as after a crash: a batch stopped halfway has no verdict, so its hosts
        are not done and are applied again.
        """
        step, batch, note = stop_note(self.record_keeper.events, self.run_id, why)
        with deferred_signals():  # a second Ctrl-C must not leave the run's locks held or its end unlogged
            self.hold.locks.release()
            self.record(RunFinished(**self._common(), step=step, batch=batch, status=RunEnd.INTERRUPTED, note=note))
            self.close()

    def close(self, notices_timeout_s: float = 30.0) -> None:
        """Let go of the run (idempotent): deliver queued notices within the bound, release the run's lease."""
        try:
            self.notifier.close(notices_timeout_s)
        finally:
            self.hold.let_go()

    def abandon(self) -> None:
        """Let go after a failure that ended the run; never raises, since that failure is the one to report.

        What cannot be released now (the log locked or its disk full) expires with its lease.
        """
        try:
            self.close(notices_timeout_s=5.0)
        except ProjectLogError as error:
            logger.warning("run %s: its locks and lease are left to expire: %s", self.run_id, error.message)

    # -- before changes ----------------------------------------------------------------------------------------

    def audit(self, step: Step, stage: Literal["before", "after"]) -> VerificationResult:
        """Run the step's checks on its hosts (reading only) and log the outcome as the before/after baseline."""
        assert self.verifier is not None
        started = time.monotonic()
        result = self.verifier.verify(step.checks, self.step_hosts(step), self.run_vars.extravars(step))
        self.record(audited(self._common(), step, stage, result, duration_s=time.monotonic() - started))
        return result

    def baseline_taken(self, step: Step) -> bool:
        """Return whether an earlier attempt of this run already audited ``step`` before changing anything.

        A resumption keeps that baseline: audited again, it would record hosts the run already changed as the
        state "before" the change, and reports compare the latest audit before with the one after.
        """
        return step.name in self.state.baselines

    def plan(self, step: Step) -> PlaybookResult:
        """Run the step's playbook in check mode with diffs (changes nothing) and log which hosts would change."""
        assert self.executor is not None
        started = time.monotonic()
        result = self.executor.plan(step.playbook, self.step_hosts(step), self.run_vars.extravars(step))
        self.record(planned(self._common(), step, result, duration_s=time.monotonic() - started))
        return result

    # -- approval ----------------------------------------------------------------------------------------------

    def approval_needed(self, step: Step) -> bool:
        """Return whether the step still waits for approval (none needed, or enough that hold are in the log)."""
        return step.strategy.approval is not None and not self.state.approved(step.name)

    def request_approval(self, step: Step) -> ApprovalRequested:
        """Log that the step's gate is open: for which plan, against which signers, and why again if it lapsed."""
        request = approvals.opening(self.project, self.state, step, self._common(), requester=self.requester)
        self.record(request)
        return request

    def decide_approval(self, step: Step, given: Answer, requested_at: datetime | None = None) -> ApprovalDecided:
        """Record an answer to the step's gate; an answer that may not count is logged as refused, with why."""
        decided = self.judge_answer(step, given, requested_at)
        self.record(decided)
        return decided

    def judge_answer(self, step: Step, given: Answer, requested_at: datetime | None = None) -> ApprovalDecided:
        """Return what an answer to the step's open gate would be recorded as (nothing is recorded)."""
        return approvals.judged(
            self.project,
            self.state,
            step,
            self._common(),
            requester=self.requester,
            given=given,
            requested_at=requested_at,
        )

    # -- emergency changes (itpm.engine.emergency) -------------------------------------------------------------

    def check_emergency(self, reason: str, *, dry_run: bool) -> list[str]:
        """Return the steps whose gates an emergency with ``reason`` would skip; raise EmergencyRefused if none."""
        return check_declaration(self.project, self.state, reason, dry_run=dry_run)

    def declare_emergency(self, reason: str) -> EmergencyDeclared:
        """Log that the started run is an emergency change skipping its gates still to pass, and why."""
        declared = declaration(self.project, self.state, reason, by=self.requester, run_id=self.run_id)
        self.record(declared)
        return declared

    def skip_gate(self, step: Step) -> bool:
        """Return whether the run's emergency goes past the step's gate (logged the first time it does)."""
        entry = skipped(self.project, self.state, step)
        if entry is not None:
            self.record(entry)
        return step.name in self.state.gates_skipped

    # -- changing hosts ----------------------------------------------------------------------------------------

    def run_batch(
        self, step: Step, batch: Batch, *, on_wait: Callable[[dict[str, str]], None] | None = None
    ) -> BatchOutcome:
        """Apply, verify and judge one batch under host locks; roll it back if it halts the rollout."""
        todo = still_to_do(batch, self.done_hosts(step))
        if not todo:
            return BatchOutcome(batch, Verdict.PASSED, batch.hosts, {}, skipped=True)
        keys = {h: lock_key(self.inventory.host(h).address, self.inventory.host(h).port) for h in todo}

        def waiting(holders: dict[str, str]) -> None:
            # Logged when the wait begins, so that watchers see at once who holds the hosts; how long it lasted
            # is the time from this event to the batch's start.
            self.record(HostsWaited(**self._common(), step=step.name, batch=batch.label, holders=holders))
            if on_wait is not None:
                on_wait(holders)

        assert self.executor is not None and self.verifier is not None
        work = BatchWork(self.executor, self.verifier, self.record_keeper, on_event=self.on_event)
        with self.hold.locks.hold(keys, wait_s=self.settings.lock_wait_seconds, on_wait=waiting):
            run_vars = self.run_vars  # once: both read today's waivers
            return work.run(step, batch, todo, run_vars.extravars(step, batch), waived=run_vars.waived_checks())

    @property
    def run_vars(self) -> RunVars:
        """Return what the run's playbooks and checks are given (the project's vars, the run's, the waivers)."""
        return RunVars(self.project, self.inventory, self.standard, self.run_id)

    # -- after changes -----------------------------------------------------------------------------------------

    def move_verified_hosts(self) -> HostsMoved | None:
        """Move the hosts every step verified into the project's target group; log and return the move.

        None when the project moves no hosts. Repeating it (a resumed run) moves nothing twice.
        """
        entry, self.inventory = move_passed_hosts(self.project, self.state, self.inventory, self._common())
        if entry is not None:
            self.record(entry)
        return entry

    def wait_for_window(self, step: Step, sleep: Callable[[float], None] = time.sleep) -> float:
        """Block until the step's change window is open (polling each minute); return seconds waited."""
        return wait_for_window(step.strategy.change_window, sleep=sleep)
