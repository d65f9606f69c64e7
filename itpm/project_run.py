"""The work of one project run, step by step, each outcome recorded in the project log (plain Python).

A Prefect flow (flows/project.py) orders these calls; tests call them directly. The project log is the durable
record: what a resumed run skips, whether a gate was approved, what a report shows, all come from it.

    run = ProjectRun.open(Path("projects/baseline-rollout.yaml"), settings, requester="dana")
    run.start(dry_run=False)
    for step in run.project.steps:
        run.audit(step, "before"); run.plan(step)
        for batch in run.batches(step):
            outcome = run.run_batch(step, batch)
            if outcome.verdict is Verdict.HALTED: break
    run.reaudit(); run.finish("completed")
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from itpm.errors import ItpmError
from itpm.execution.runner import EventCallback, new_run_id, plan_playbook, run_playbook
from itpm.inventory import Inventory, load_inventory
from itpm.log.events import (
    ApprovalDecided,
    ApprovalRequested,
    BatchFinished,
    BatchStarted,
    Event,
    HostApplied,
    HostsWaited,
    HostVerified,
    PhaseChanged,
    RolledBack,
    RunFinished,
    RunHalted,
    RunStarted,
    StepAudited,
    StepPlanned,
    now,
)
from itpm.log.locks import HostLocks, lock_key
from itpm.log.store import ProjectLog
from itpm.models.project import PhaseName, Project, Step
from itpm.models.results import PlaybookResult, VerificationResult
from itpm.project_file import load_project
from itpm.rollout import Batch, Verdict, judge_batch, plan_batches, still_to_do
from itpm.settings import Settings
from itpm.verification.runner import verify

__all__ = ["ApprovalRefused", "BatchOutcome", "ProjectRun", "RunNotFound", "check_approver", "step_hosts"]

RunStatus = Literal["completed", "halted", "rejected", "dry_run", "failed"]


class RunNotFound(ItpmError):
    """No run with that id is in the project log."""

    exit_code = 2


class ApprovalRefused(ItpmError):
    """Someone who may not approve a step tried to."""

    exit_code = 2


@dataclass(frozen=True)
class BatchOutcome:
    """What happened to one batch: its verdict, the hosts that failed and why, and any rollback."""

    batch: Batch
    verdict: Verdict
    ok: tuple[str, ...]
    failed: dict[str, str]  # host -> failed task or check, with its message
    rolled_back: RolledBack | None = None
    skipped: bool = False  # every host of the batch was already done (a resumed run)


def step_hosts(inventory: Inventory, project: Project, step: Step) -> tuple[str, ...]:
    """Return the hosts ``step`` changes: the project's scope, narrowed by the step's own pattern if it has one."""
    scope = inventory.select(project.scope.hosts)
    if step.hosts is None:
        return scope
    narrowed = set(inventory.select(step.hosts))
    return tuple(h for h in scope if h in narrowed)


def check_approver(project: Project, step: Step, approver: str, requester: str) -> str:
    """Return why ``approver`` may not approve ``step`` (empty when they may)."""
    gate = step.strategy.approval
    if gate is None:
        return f"step {step.name!r} needs no approval"
    if approver == requester or any(p.is_(approver) and p.is_(requester) for p in project.team):
        return f"{approver} requested this run and cannot approve it: another person with role " + (
            " or ".join(gate.roles) + " must"
        )
    roles = {p.role for p in project.team if p.is_(approver)}
    if not roles:
        return f"{approver} is not on the project team; approvers need role {' or '.join(gate.roles)}"
    if not roles & set(gate.roles):
        return f"{approver} has role {', '.join(sorted(roles))}; step {step.name!r} needs {' or '.join(gate.roles)}"
    return ""


@dataclass
class ProjectRun:
    """One run of a project, with everything its steps need."""

    project_file: Path
    project: Project
    run_id: str
    requester: str
    settings: Settings
    log: ProjectLog
    inventory: Inventory
    on_event: EventCallback | None = None
    _locks: HostLocks | None = field(default=None, repr=False)

    @classmethod
    def open(cls, project_file: Path, settings: Settings, *, requester: str, run_id: str | None = None) -> ProjectRun:
        """Load the project and its inventory; a new run id unless ``run_id`` continues a logged run."""
        project = load_project(project_file)
        return cls(
            project_file=project_file.resolve(),
            project=project,
            run_id=run_id or new_run_id(project.name),
            requester=requester,
            settings=settings,
            log=ProjectLog.for_settings(settings),
            inventory=load_inventory(project.scope.inventory),
        )

    @classmethod
    def reopen(cls, run_id: str, settings: Settings) -> ProjectRun:
        """Return the logged run ``run_id`` ready to resume (same project file, requester and id)."""
        log = ProjectLog.for_settings(settings)
        started = [e for e in log.events(run_id, kinds=["run_started"]) if isinstance(e, RunStarted)]
        if not started:
            known = ", ".join(log.run_ids()[-5:]) or "none yet"
            raise RunNotFound(f"no run {run_id!r} in the project log {log.url}", fix=f"recent runs: {known}")
        first = started[0]
        return cls.open(Path(first.project_file), settings, requester=first.requester, run_id=run_id)

    # -- recording ---------------------------------------------------------------------------------------------

    @property
    def locks(self) -> HostLocks:
        """Return this run's host locks (created on first use)."""
        if self._locks is None:
            self._locks = HostLocks(self.log, self.run_id, self.settings.lock_lease_seconds)
        return self._locks

    def _common(self) -> dict[str, str]:
        return {"run_id": self.run_id, "project": self.project.name}

    def history(self, *kinds: str) -> list[Event]:
        """Return this run's logged events (of the given kinds), oldest first."""
        return self.log.events(self.run_id, kinds=kinds or None)

    # -- scope -------------------------------------------------------------------------------------------------

    def scope_hosts(self) -> tuple[str, ...]:
        """Return the hosts the project may touch."""
        return self.inventory.select(self.project.scope.hosts)

    def step_hosts(self, step: Step) -> tuple[str, ...]:
        """Return the hosts a step changes: the scope, narrowed by the step's own pattern."""
        return step_hosts(self.inventory, self.project, step)

    def batches(self, step: Step) -> tuple[Batch, ...]:
        """Return the step's batches (the same on every resumption)."""
        return plan_batches(step.name, self.step_hosts(step), step.strategy)

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self, *, dry_run: bool = False) -> RunStarted:
        """Log the start (or resumption) of the run."""
        resumed = bool(self.history("run_started"))
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
        )
        self.log.append(started)
        return started

    def enter_phase(self, phase: PhaseName) -> None:
        """Log that the run entered ``phase``."""
        self.log.append(PhaseChanged(**self._common(), phase=phase.value))

    def finish(self, status: RunStatus) -> None:
        """Log the end of the run and release any host lock it still holds."""
        self.locks.release()
        self.log.append(RunFinished(**self._common(), status=status))

    # -- before changes ----------------------------------------------------------------------------------------

    def audit(self, step: Step, stage: Literal["before", "after"]) -> VerificationResult:
        """Run the step's checks on its hosts (reading only) and log the outcome as the before/after baseline."""
        result = verify(list(step.checks), self.inventory, self.settings, limit=",".join(self.step_hosts(step)))
        self.log.append(
            StepAudited(
                **self._common(),
                step=step.name,
                stage=stage,
                passed=sorted(result.ok),
                failed={
                    h: [f"{c.check.split('::')[-1]}: {c.message}" for c in r.failures] for h, r in result.failed.items()
                },
            )
        )
        return result

    def plan(self, step: Step) -> PlaybookResult:
        """Run the step's playbook in check mode with diffs (changes nothing) and log which hosts would change."""
        result = plan_playbook(step.playbook, self.inventory, self.settings, limit=",".join(self.step_hosts(step)))
        self.log.append(
            StepPlanned(
                **self._common(),
                step=step.name,
                changes={h: [c.task for c in changes] for h, changes in result.plan.items()},
                unreachable=sorted(result.unreachable),
            )
        )
        return result

    # -- approval ----------------------------------------------------------------------------------------------

    def approval_needed(self, step: Step) -> bool:
        """Return whether the step still waits for an approval (none needed, or already approved in the log)."""
        if step.strategy.approval is None:
            return False
        decided = [
            e for e in self.history("approval_decided") if isinstance(e, ApprovalDecided) and e.step == step.name
        ]
        return not any(e.decision == "approved" for e in decided)

    def request_approval(self, step: Step) -> None:
        """Log that the step waits for approval."""
        gate = step.strategy.approval
        roles = list(gate.roles) if gate else []
        self.log.append(ApprovalRequested(**self._common(), step=step.name, roles=roles, requester=self.requester))

    def decide_approval(
        self, step: Step, *, approver: str, approve: bool, comment: str = "", requested_at: datetime | None = None
    ) -> ApprovalDecided:
        """Record an answer to the step's gate; an answer from someone who may not approve is logged as refused."""
        reason = check_approver(self.project, step, approver, self.requester)
        decision: Literal["approved", "rejected", "refused"] = (
            "refused" if reason else ("approved" if approve else "rejected")
        )
        waited = (now() - requested_at).total_seconds() if requested_at else 0.0
        decided = ApprovalDecided(
            **self._common(),
            step=step.name,
            approver=approver,
            decision=decision,
            comment=comment,
            reason=reason,
            waited_s=waited,
        )
        self.log.append(decided)
        return decided

    # -- changing hosts ----------------------------------------------------------------------------------------

    def done_hosts(self, step: Step) -> set[str]:
        """Return the step's hosts applied and verified by this run (rolled-back hosts are not done)."""
        done: set[str] = set()
        for entry in self.history("host_verified", "rolled_back"):
            if entry.step != step.name:
                continue
            if isinstance(entry, HostVerified) and entry.host is not None:
                (done.add if entry.passed else done.discard)(entry.host)
            elif isinstance(entry, RolledBack):
                done.difference_update(entry.hosts)
        return done

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
            self.log.append(HostsWaited(**self._common(), step=step.name, batch=batch.label, holders=holders))
            if on_wait is not None:
                on_wait(holders)

        with self.locks.hold(keys, wait_s=self.settings.lock_wait_seconds, on_wait=waiting):
            return self._apply_verify_judge(step, batch, todo)

    def _apply_verify_judge(self, step: Step, batch: Batch, todo: Sequence[str]) -> BatchOutcome:
        common = {**self._common(), "step": step.name, "batch": batch.label}
        self.log.append(BatchStarted(**common, hosts=list(todo)))
        applied = run_playbook(
            step.playbook,
            self.inventory,
            self.settings,
            limit=",".join(todo),
            extravars=self._extravars(step, batch),
            on_event=self.on_event,
        )
        failed: dict[str, str] = {}
        for host, result in applied.hosts.items():
            failure = result.failure
            self.log.append(
                HostApplied(
                    **common,
                    host=host,
                    status=result.status.value,
                    changed_tasks=result.changed_tasks,
                    failed_task=failure.task if failure else "",
                    message=failure.message if failure else "",
                    duration_s=result.duration_s,
                )
            )
            if host in applied.failed:
                failed[host] = f"{result.status.value} at {failure.task if failure else '?'}: " + (
                    failure.message.splitlines()[-1] if failure and failure.message else ""
                )
        reached = [h for h in todo if h not in failed]
        if reached:
            checked = verify(list(step.checks), self.inventory, self.settings, limit=",".join(reached))
            for host, checks in checked.hosts.items():
                messages = [f"{c.check.split('::')[-1]}: {c.message}" for c in checks.failures]
                self.log.append(HostVerified(**common, host=host, passed=checks.ok, failures=messages))
                if not checks.ok:
                    failed[host] = "check " + messages[0] if messages else "checks did not run"
        verdict = judge_batch(batch, failed, step.strategy)
        ok = tuple(h for h in todo if h not in failed)
        self.log.append(BatchFinished(**common, verdict=verdict.value, ok=list(ok), failed=sorted(failed)))
        rolled_back = None
        if verdict is Verdict.HALTED:
            rolled_back = self._roll_back(step, batch, todo) if step.rollback else None
            self.log.append(
                RunHalted(
                    **common,
                    reason=self._halt_reason(batch, failed, step),
                    next_steps=self._next_steps(batch, failed, rolled_back),
                )
            )
        return BatchOutcome(batch, verdict, ok, failed, rolled_back)

    def _roll_back(self, step: Step, batch: Batch, hosts: Sequence[str]) -> RolledBack:
        assert step.rollback is not None
        undone = run_playbook(
            step.rollback, self.inventory, self.settings, limit=",".join(hosts), extravars=self._extravars(step, batch)
        )
        rolled_back = RolledBack(
            **self._common(),
            step=step.name,
            batch=batch.label,
            hosts=list(hosts),
            ok=sorted(undone.ok),
            failed={
                h: (r.failure.message.splitlines()[-1] if r.failure and r.failure.message else r.status.value)
                for h, r in undone.failed.items()
            },
        )
        self.log.append(rolled_back)
        return rolled_back

    def _extravars(self, step: Step, batch: Batch) -> dict[str, str]:
        """Return what a playbook may know of the run that applies it (to tag or log its changes)."""
        return {
            "itpm_run_id": self.run_id,
            "itpm_project": self.project.name,
            "itpm_step": step.name,
            "itpm_batch": batch.label,
        }

    def _halt_reason(self, batch: Batch, failed: dict[str, str], step: Step) -> str:
        if batch.canary:
            return f"the canary of step {step.name!r} failed: " + "; ".join(f"{h}: {why}" for h, why in failed.items())
        return (
            f"{len(failed)} of {len(batch.hosts)} hosts of {batch.label} failed, more than the "
            f"{step.strategy.max_fail_percent:g}% allowed: " + "; ".join(f"{h}: {why}" for h, why in failed.items())
        )

    def _next_steps(self, batch: Batch, failed: dict[str, str], rolled_back: RolledBack | None) -> str:
        lines = [f"Look at {', '.join(sorted(failed))}: `itpm log {self.run_id} --host {sorted(failed)[0]}`."]
        if rolled_back is None:
            lines.append("No rollback playbook: the failed hosts are left as the step left them.")
        elif rolled_back.failed:
            lines.append(f"Rollback FAILED on {', '.join(rolled_back.failed)}: restore those hosts by hand first.")
        else:
            lines.append(f"{batch.label} was rolled back on {', '.join(rolled_back.ok)}.")
        lines.append(f"Fix the cause, then `itpm resume {self.run_id}` continues from {batch.label}.")
        return " ".join(lines)

    # -- after changes -----------------------------------------------------------------------------------------

    def reaudit(self) -> dict[str, VerificationResult]:
        """Run every step's checks again on its hosts (the after-baseline); return them by step."""
        return {step.name: self.audit(step, "after") for step in self.project.steps}

    def wait_for_window(self, step: Step, sleep: Callable[[float], None] = time.sleep) -> float:
        """Block until the step's change window is open (polling each minute); return seconds waited."""
        window = step.strategy.change_window
        waited = 0.0
        while window is not None and not window.contains(now()):
            sleep(60.0)
            waited += 60.0
        return waited
