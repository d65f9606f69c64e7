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
from typing import Any, Literal

from itpm.compliance import HostWaivers, remediation_vars, waivers_by_host
from itpm.errors import ItpmError
from itpm.execution.runner import EventCallback, end_processes_of, new_run_id, plan_playbook, run_playbook
from itpm.inventory import Inventory, load_inventory
from itpm.inventory_groups import move_hosts
from itpm.log.events import (
    ApprovalDecided,
    ApprovalRequested,
    BatchFinished,
    BatchStarted,
    CostBooked,
    Event,
    HostApplied,
    HostsExcluded,
    HostsMoved,
    HostsWaited,
    HostVerified,
    PhaseChanged,
    RiskRaised,
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
from itpm.models.project import PhaseName, Project, RiskSignal, Step
from itpm.models.results import PlaybookResult, VerificationResult
from itpm.models.standard import Standard
from itpm.notify import SecretSource, notice_for, notify
from itpm.project_file import find_repo_root, load_project
from itpm.reports.briefing import briefing_of
from itpm.rollout import Batch, Verdict, judge_batch, plan_batches, still_to_do
from itpm.run_record import RunNotFound, started_event, view_of
from itpm.settings import Settings
from itpm.standard_file import load_standard
from itpm.verification.runner import verify

__all__ = ["ApprovalRefused", "BatchOutcome", "ProjectRun", "RunEnd", "RunNotFound", "check_approver", "step_hosts"]

RunEnd = Literal["completed", "halted", "rejected", "dry_run", "failed"]


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
    roles = set(project.roles_of(approver))
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
    standard: Standard | None = None  # a compliance project's standard, read once when the run opens
    secrets: SecretSource | None = None  # for notification channels (None: the environment)
    links: tuple[str, ...] = ()  # where a stakeholder can look (the Prefect UI run, `itpm status RUN`)
    _locks: HostLocks | None = field(default=None, repr=False)
    _dry_run: bool = field(default=False, repr=False)

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
            standard=load_standard(project.compliance.standard) if project.compliance else None,
        )

    @classmethod
    def reopen(cls, run_id: str, settings: Settings) -> ProjectRun:
        """Return the logged run ``run_id`` ready to resume (same project file, requester and id)."""
        first = started_event(ProjectLog.for_settings(settings), run_id)
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

    def record(self, entry: Event) -> None:
        """Commit ``entry`` to the project log, then tell the stakeholders who want to hear about it."""
        self.log.append(entry)
        if isinstance(entry, RunStarted):
            self._dry_run = entry.dry_run
        # A dry run changes nothing, so nobody outside the team needs to hear of it.
        if not self._dry_run and notice_for(entry) is not None and any(s.channel for s in self.project.stakeholders):
            self._tell_stakeholders(entry)

    def _tell_stakeholders(self, entry: Event) -> None:
        """Notify (never raising: failures come back as deliveries) and log who was told, or why not."""
        view = view_of(self.log, self.run_id, project=self.project)
        deliveries = notify(
            self.project,
            entry,
            briefing_of(view, links=[*self.links, f"itpm status {self.run_id}"]),
            secrets=self.secrets,
            base_dir=find_repo_root(self.project_file),
        )
        for delivery in deliveries:
            sent = delivery.to_event(run_id=self.run_id, project=self.project.name, step=entry.step, batch=entry.batch)
            if sent is not None:
                self.log.append(sent)

    def history(self, *kinds: str) -> list[Event]:
        """Return this run's logged events (of the given kinds), oldest first."""
        return self.log.events(self.run_id, kinds=kinds or None)

    # -- scope -------------------------------------------------------------------------------------------------

    def _first_start(self) -> RunStarted | None:
        """Return the event that started this run the first time (None before it starts)."""
        first = next(iter(self.history("run_started")), None)
        return first if isinstance(first, RunStarted) else None

    def scope_hosts(self) -> tuple[str, ...]:
        """Return the hosts the project may touch, as the run's first start found them in the inventory.

        Pinned, so that a resumed run works on the same hosts even after the inventory changed (the run itself
        moves onboarded hosts out of their ``spare`` group).
        """
        first = self._first_start()
        return tuple(first.hosts) if first else self.inventory.select(self.project.scope.hosts)

    def step_hosts(self, step: Step) -> tuple[str, ...]:
        """Return the hosts a step changes: the scope, narrowed by the step's own pattern (pinned as above)."""
        first = self._first_start()
        if first is not None:
            return tuple(first.step_hosts.get(step.name, first.hosts))
        return step_hosts(self.inventory, self.project, step)

    def excluded_hosts(self, step: Step) -> dict[str, str]:
        """Return the step's hosts that an earlier step of this run did not pass on: ``{'h5': 'burn-in'}``.

        A later step builds on the earlier ones (provisioning after acceptance), so a host that failed one is
        left out of the rest instead of getting half a change.
        """
        excluded: dict[str, str] = {}
        for earlier in self.project.steps[: self.project.steps.index(step)]:
            done = self.done_hosts(earlier)
            excluded.update({h: earlier.name for h in self.step_hosts(earlier) if h not in done and h not in excluded})
        mine = set(self.step_hosts(step))
        return {h: s for h, s in excluded.items() if h in mine}

    def batches(self, step: Step) -> tuple[Batch, ...]:
        """Return the step's batches without the hosts earlier steps left out (the same on every resumption).

        Logs the hosts left out, once per step.
        """
        excluded = self.excluded_hosts(step)
        logged = any(isinstance(e, HostsExcluded) and e.step == step.name for e in self.history("hosts_excluded"))
        if excluded and not logged:
            self.record(HostsExcluded(**self._common(), step=step.name, hosts=excluded))
        hosts = [h for h in self.step_hosts(step) if h not in excluded]
        return plan_batches(step.name, hosts, step.strategy)

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self, *, dry_run: bool = False) -> RunStarted:
        """Log the start (or resumption) of the run.

        A resumption first ends the Ansible processes an earlier attempt of this run left on this machine: a
        flow killed mid-playbook leaves Ansible working on its hosts, and this attempt is about to take over
        the same host locks (they are the run's own) and apply to the same hosts.
        """
        resumed = bool(self.history("run_started"))
        if resumed:
            end_processes_of(self.run_id)
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
        self.record(started)
        return started

    def enter_phase(self, phase: PhaseName) -> None:
        """Log that the run entered ``phase``."""
        self.record(PhaseChanged(**self._common(), phase=phase.value))

    def finish(self, status: RunEnd) -> None:
        """Log the end of the run and release any host lock it still holds."""
        self.locks.release()
        self.record(RunFinished(**self._common(), status=status))

    # -- before changes ----------------------------------------------------------------------------------------

    def audit(self, step: Step, stage: Literal["before", "after"]) -> VerificationResult:
        """Run the step's checks on its hosts (reading only) and log the outcome as the before/after baseline."""
        started = now()
        result = verify(
            list(step.checks),
            self.inventory,
            self.settings,
            limit=",".join(self.step_hosts(step)),
            extra_vars=self._extravars(step),
        )
        self.record(
            StepAudited(
                **self._common(),
                step=step.name,
                stage=stage,
                checks=sorted({c.name for r in result.hosts.values() for c in r.checks}),
                passed=sorted(result.ok),
                failed={h: [c.summary for c in r.failures] for h, r in result.failed.items()},
            )
        )
        self._book_time(f"audit of {step.name} ({stage} the change)", started, step=step.name)
        return result

    def baseline_taken(self, step: Step) -> bool:
        """Return whether an earlier attempt of this run already audited ``step`` before changing anything.

        A resumption keeps that baseline: audited again, it would record hosts the run already changed as the
        state "before" the change, and reports compare the latest audit before with the one after.
        """
        return any(
            isinstance(e, StepAudited) and e.step == step.name and e.stage == "before"
            for e in self.history("step_audited")
        )

    def plan(self, step: Step) -> PlaybookResult:
        """Run the step's playbook in check mode with diffs (changes nothing) and log which hosts would change."""
        started = now()
        result = plan_playbook(
            step.playbook,
            self.inventory,
            self.settings,
            limit=",".join(self.step_hosts(step)),
            extravars=self._extravars(step),
            owner=self.run_id,
        )
        self.record(
            StepPlanned(
                **self._common(),
                step=step.name,
                changes={h: [c.task for c in changes] for h, changes in result.plan.items()},
                unreachable=sorted(result.unreachable),
            )
        )
        self._book_time(f"plan of {step.name}", started, step=step.name)
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
        self.record(ApprovalRequested(**self._common(), step=step.name, roles=roles, requester=self.requester))

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
        self.record(decided)
        return decided

    # -- changing hosts ----------------------------------------------------------------------------------------

    def done_hosts(self, step: Step) -> set[str]:
        """Return the step's hosts applied and verified by this run (rolled-back hosts are not done).

        A halted batch undoes its verified hosts at once, not only when its rollback is logged: a run killed
        during the rollback leaves them half rolled back, so a resumption applies the whole batch again.
        """
        done: set[str] = set()
        for entry in self.history("host_verified", "batch_finished", "rolled_back"):
            if entry.step != step.name:
                continue
            if isinstance(entry, HostVerified) and entry.host is not None:
                (done.add if entry.passed else done.discard)(entry.host)
            elif isinstance(entry, BatchFinished) and entry.verdict == Verdict.HALTED.value:
                done.difference_update([*entry.ok, *entry.failed])
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
            self.record(HostsWaited(**self._common(), step=step.name, batch=batch.label, holders=holders))
            if on_wait is not None:
                on_wait(holders)

        with self.locks.hold(keys, wait_s=self.settings.lock_wait_seconds, on_wait=waiting):
            started = now()
            outcome = self._apply_verify_judge(step, batch, todo)
        self._book_time(f"rollout of {batch.label}", started, step=step.name, batch=batch.label)
        self._book_hosts(step, batch, outcome.ok)
        self._watch_risks(step, self._signals(outcome))
        return outcome

    def _apply_verify_judge(self, step: Step, batch: Batch, todo: Sequence[str]) -> BatchOutcome:
        common = {**self._common(), "step": step.name, "batch": batch.label}
        self.record(BatchStarted(**common, hosts=list(todo)))
        applied = run_playbook(
            step.playbook,
            self.inventory,
            self.settings,
            limit=",".join(todo),
            extravars=self._extravars(step, batch),
            on_event=self.on_event,
            owner=self.run_id,
        )
        failed: dict[str, str] = {}
        for host, result in applied.hosts.items():
            failure = result.failure
            self.record(
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
            checked = verify(
                list(step.checks),
                self.inventory,
                self.settings,
                limit=",".join(reached),
                extra_vars=self._extravars(step, batch),
            )
            waived = self._waived_checks()
            for host, checks in checked.hosts.items():
                # A check of a control waived on this host may fail: the waiver is the accepted exception.
                messages = [c.summary for c in checks.failures if c.name not in waived.get(host, set())]
                passed = bool(checks.checks) and not messages  # no check ran: not verified
                self.record(HostVerified(**common, host=host, passed=passed, failures=messages))
                if not passed:
                    failed[host] = "check " + messages[0] if messages else "checks did not run"
        verdict = judge_batch(batch, failed, step.strategy)
        ok = tuple(h for h in todo if h not in failed)
        self.record(BatchFinished(**common, verdict=verdict.value, ok=list(ok), failed=sorted(failed)))
        rolled_back = None
        if verdict is Verdict.HALTED:
            rolled_back = self._roll_back(step, batch, todo) if step.rollback else None
            self.record(
                RunHalted(
                    **common,
                    reason=self._halt_reason(batch, failed, step),
                    next_steps=self._next_steps(batch, failed, rolled_back),
                )
            )
        return BatchOutcome(batch, verdict, ok, failed, rolled_back)

    def _waivers_today(self) -> HostWaivers:
        """Return the project's waivers that hold today, per host and control (none outside compliance projects).

        Judged on the day the step runs: a waiver that lapsed overnight is remediated and fails again.
        """
        if self.project.compliance is None:
            return {}
        active, _ = waivers_by_host(self.project.compliance.waivers, self.inventory, now().date())
        return active

    def _waived_checks(self) -> dict[str, set[str]]:
        """Return, per host, the checks of the controls a waiver exempts today (none outside compliance projects)."""
        if self.standard is None:
            return {}
        return {
            host: {name for control in controls for name in self.standard.control(control).checks}
            for host, controls in self._waivers_today().items()
        }

    def _roll_back(self, step: Step, batch: Batch, hosts: Sequence[str]) -> RolledBack:
        assert step.rollback is not None
        undone = run_playbook(
            step.rollback,
            self.inventory,
            self.settings,
            limit=",".join(hosts),
            extravars=self._extravars(step, batch),
            owner=self.run_id,
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
        self.record(rolled_back)
        return rolled_back

    # -- costs and risks ---------------------------------------------------------------------------------------

    def _book_time(self, activity: str, since: datetime, *, step: str | None = None, batch: str | None = None) -> None:
        """Book the requester's time since ``since`` at their role's rate (the engineer attends the run)."""
        budget = self.project.budget
        if budget is None:
            return
        role = next(iter(self.project.roles_of(self.requester)), "")
        hours = (now() - since).total_seconds() / 3600
        note = activity if role in budget.rates else f"{activity}; no rate for {role or 'someone off the team'}"
        self.record(
            CostBooked(
                **self._common(),
                step=step,
                batch=batch,
                category="labour",
                amount=budget.labour_cost(role, hours),
                currency=budget.currency,
                role=role,
                person=self.requester,
                hours=hours,
                note=note,
            )
        )

    def _book_hosts(self, step: Step, batch: Batch, verified: Sequence[str]) -> None:
        """Book the per-host cost of hosts verified for the first time in this project (any run)."""
        budget = self.project.budget
        if budget is None or not budget.per_host or not verified:
            return
        booked = {
            h
            for e in self.log.events(project=self.project.name, kinds=["cost_booked"])
            if isinstance(e, CostBooked)
            for h in e.hosts
        }
        new = sorted(set(verified) - booked)
        if new:
            self.record(
                CostBooked(
                    **self._common(),
                    step=step.name,
                    batch=batch.label,
                    category="hosts",
                    amount=budget.per_host * len(new),
                    currency=budget.currency,
                    hosts=new,
                    note=f"{len(new)} hosts x {budget.currency} {budget.per_host}",
                )
            )

    def _signals(self, outcome: BatchOutcome) -> dict[RiskSignal, str]:
        """Return what the batch showed that can mean a risk materialized, each with the hosts it concerns."""
        applied = [
            e for e in self.history("host_applied") if isinstance(e, HostApplied) and e.batch == outcome.batch.label
        ]
        unreachable = sorted({e.host or "" for e in applied if e.status == "unreachable"})
        check_failed = sorted(h for h, why in outcome.failed.items() if why.startswith("check "))
        signals: dict[RiskSignal, str] = {}
        if unreachable:
            signals[RiskSignal.UNREACHABLE] = f"unreachable in {outcome.batch.label}: {', '.join(unreachable)}"
        if check_failed:
            signals[RiskSignal.CHECK_FAILED] = f"checks failed in {outcome.batch.label}: {', '.join(check_failed)}"
        if outcome.verdict is Verdict.HALTED:
            signals[RiskSignal.HALT] = f"the rollout halted at {outcome.batch.label}"
        if outcome.rolled_back is not None and outcome.rolled_back.failed:
            signals[RiskSignal.ROLLBACK_FAILED] = f"rollback failed on {', '.join(outcome.rolled_back.failed)}"
        return signals

    def _watch_risks(self, step: Step, signals: dict[RiskSignal, str]) -> None:
        """Log each project risk whose signals the step showed as materialized (once per run)."""
        if not signals:
            return
        already = {e.risk_id for e in self.history("risk_raised") if isinstance(e, RiskRaised) and e.materialized}
        for risk in self.project.risks:
            seen = [note for signal, note in signals.items() if signal in risk.signals]
            if risk.id in already or not seen or risk.step not in (None, step.name):
                continue
            self.record(
                RiskRaised(
                    **self._common(),
                    step=step.name,
                    risk_id=risk.id,
                    title=risk.title,
                    likelihood=risk.likelihood.value,
                    impact=risk.impact.value,
                    owner=risk.owner,
                    materialized=True,
                    note="; ".join(seen),
                )
            )

    def _extravars(self, step: Step, batch: Batch | None = None) -> dict[str, Any]:
        """Return the extra vars of the step's playbooks and checks: the project's vars, then the run's.

        The ``itpm_*`` names let a playbook tag or log its changes with the run, step and batch that made them.
        """
        run: dict[str, Any] = {"itpm_run_id": self.run_id, "itpm_project": self.project.name, "itpm_step": step.name}
        if batch is not None:
            run["itpm_batch"] = batch.label
        if self.standard is not None:
            run.update(remediation_vars(self.standard, self._waivers_today()))
        return {**self.project.variables(step), **run}

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

    def move_verified_hosts(self) -> HostsMoved | None:
        """Move the hosts every step verified into the project's target group; log and return the move.

        None when the project moves no hosts. Repeating it (a resumed run) moves nothing twice.
        """
        move = self.project.move_to_group
        if move is None:
            return None
        passed = set(self.scope_hosts())
        for step in self.project.steps:
            passed &= self.done_hosts(step) | (set(self.scope_hosts()) - set(self.step_hosts(step)))
        hosts = [h for h in self.scope_hosts() if h in passed]
        if not hosts:
            return None
        inventory_file = self.inventory.path
        moved = move_hosts(inventory_file, hosts, from_group=move.from_group, to_group=move.to_group)
        self.inventory = load_inventory(inventory_file)
        entry = HostsMoved(
            **self._common(),
            hosts=moved,
            from_group=move.from_group,
            to_group=move.to_group,
            inventory=str(inventory_file),
        )
        self.record(entry)
        return entry

    def wait_for_window(self, step: Step, sleep: Callable[[float], None] = time.sleep) -> float:
        """Block until the step's change window is open (polling each minute); return seconds waited."""
        window = step.strategy.change_window
        waited = 0.0
        while window is not None and not window.contains(now()):
            sleep(60.0)
            waited += 60.0
        return waited
