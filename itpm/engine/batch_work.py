"""One batch's work: apply the step's playbook, verify with its checks, judge, and roll back if it halts.

Every outcome is recorded as it happens (``HostApplied``, ``HostVerified``, ``BatchFinished``, ``RolledBack``,
``RunHalted``), so a run killed at any point resumes from the log. Failures are typed values throughout.

>>> outcome = BatchWork(executor, verifier, record).run(step, batch, ("h2", "h3"), vars, waived={})  # doctest: +SKIP
>>> outcome.verdict, {h: f.kind for h, f in outcome.failed.items()}  # doctest: +SKIP
(<Verdict.TOLERATED: 'tolerated'>, {'h3': <FailureKind.UNREACHABLE: 'unreachable'>})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from itpm.engine.halt_notes import halt_reason, next_steps
from itpm.engine.ports import Executor, Verifier
from itpm.engine.record import RunRecord
from itpm.execution.runner import EventCallback
from itpm.log.events import BatchFinished, BatchStarted, HostApplied, HostVerified, RolledBack, RunHalted
from itpm.models.failures import HostFailure
from itpm.models.project import Step
from itpm.models.statuses import Verdict
from itpm.rollout import Batch, judge_batch

__all__ = ["BatchOutcome", "BatchWork"]


@dataclass(frozen=True)
class BatchOutcome:
    """What happened to one batch: its verdict, the hosts that failed and why, and any rollback."""

    batch: Batch
    verdict: Verdict
    ok: tuple[str, ...]
    failed: dict[str, HostFailure] = field(default_factory=dict)
    rolled_back: RolledBack | None = None
    skipped: bool = False  # every host of the batch was already done (a resumed run)


@dataclass
class BatchWork:
    """Applies, verifies, judges and rolls back batches of one run."""

    executor: Executor
    verifier: Verifier
    record: RunRecord
    on_event: EventCallback | None = None

    def run(
        self,
        step: Step,
        batch: Batch,
        todo: Sequence[str],
        extravars: Mapping[str, Any],
        *,
        waived: Mapping[str, set[str]],
    ) -> BatchOutcome:
        """Work ``todo`` (the batch's hosts not yet done); ``waived`` maps a host to checks allowed to fail."""
        common = {"run_id": self.record.run_id, "project": self.record.state.project, "step": step.name}
        common["batch"] = batch.label
        self.record.record(BatchStarted(**common, hosts=list(todo)))
        failed = self._apply(step, todo, extravars, common)
        reached = [h for h in todo if h not in failed]
        if reached:
            failed.update(self._verify(step, reached, extravars, common, waived))
        verdict = judge_batch(batch, failed, step.strategy)
        ok = tuple(h for h in todo if h not in failed)
        self.record.record(BatchFinished(**common, verdict=verdict, ok=list(ok), failed=sorted(failed)))
        rolled_back = None
        if verdict is Verdict.HALTED:
            rolled_back = self._roll_back(step, todo, extravars, common) if step.rollback else None
            reason = halt_reason(batch, failed, step)
            then = next_steps(self.record.run_id, batch, failed, rolled_back)
            self.record.record(RunHalted(**common, reason=reason, next_steps=then))
        return BatchOutcome(batch, verdict, ok, failed, rolled_back)

    def _apply(
        self, step: Step, todo: Sequence[str], extravars: Mapping[str, Any], common: dict[str, str]
    ) -> dict[str, HostFailure]:
        applied = self.executor.apply(step.playbook, todo, extravars, on_event=self.on_event)
        failed: dict[str, HostFailure] = {}
        for host, result in applied.hosts.items():
            failure = HostFailure.of_playbook(result)
            self.record.record(
                HostApplied(
                    **common,
                    host=host,
                    status=result.status,
                    failure_kind=failure.kind if failure else None,
                    changed_tasks=result.changed_tasks,
                    failed_task=failure.task if failure else "",
                    message=failure.message if failure else "",
                    duration_s=result.duration_s,
                )
            )
            if failure is not None:
                failed[host] = failure
        return failed

    def _verify(
        self,
        step: Step,
        hosts: Sequence[str],
        extravars: Mapping[str, Any],
        common: dict[str, str],
        waived: Mapping[str, set[str]],
    ) -> dict[str, HostFailure]:
        checked = self.verifier.verify(step.checks, hosts, extravars)
        failed: dict[str, HostFailure] = {}
        for host, checks in checked.hosts.items():
            # A check of a control waived on this host may fail: the waiver is the accepted exception.
            failures = [
                f
                for f in (HostFailure.of_check(c) for c in checks.checks)
                if f is not None and f.check not in waived.get(host, set())
            ]
            if not checks.checks:  # no check ran: the change is not proven
                failures = [HostFailure.not_verified(host)]
            self.record.record(HostVerified(**common, host=host, passed=not failures, failures=failures))
            if failures:
                failed[host] = failures[0]
        return failed

    def _roll_back(
        self, step: Step, hosts: Sequence[str], extravars: Mapping[str, Any], common: dict[str, str]
    ) -> RolledBack:
        assert step.rollback is not None
        undone = self.executor.apply(step.rollback, hosts, extravars)
        failures = {h: HostFailure.of_playbook(r) for h, r in undone.failed.items()}
        rolled_back = RolledBack(
            **common,
            hosts=list(hosts),
            ok=sorted(undone.ok),
            failed={h: (f.last_line or f.kind.value) if f else "failed" for h, f in failures.items()},
        )
        self.record.record(rolled_back)
        return rolled_back
