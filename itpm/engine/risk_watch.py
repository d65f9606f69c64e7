"""Risk watching as a reaction: a project risk whose signals a run shows is logged as materialized, once a run.

A batch shows ``unreachable`` (a host could not be reached to apply), ``check_failed`` (a check did not hold),
``halt`` (the batch halted the rollout) and, when its rollback failed somewhere, ``rollback_failed``; an
approver who rejects a step shows ``approval_rejected``. The signals are read from the failures' kinds and the
decisions, never from their words.
"""

from __future__ import annotations

from collections.abc import Sequence

from itpm.log.events import (
    ApprovalDecided,
    BatchFinished,
    BatchStarted,
    Event,
    HostApplied,
    HostVerified,
    RiskRaised,
    RolledBack,
)
from itpm.models.failures import FailureKind
from itpm.models.project import Project, RiskSignal
from itpm.models.results import HostStatus
from itpm.models.statuses import Decision, Verdict
from itpm.run_state import RunState

__all__ = ["RiskWatch"]

_CHECK_KINDS = (FailureKind.CHECK_FAILED, FailureKind.CHECK_BROKEN)


class RiskWatch:
    """Raises the project's risks that a batch's events signal (a ``Reaction``)."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._unreachable: set[str] = set()  # in the batch under way
        self._check_failed: set[str] = set()

    def __call__(self, entry: Event, state: RunState) -> Sequence[Event]:
        """Return the risks ``entry`` shows materialized."""
        if isinstance(entry, BatchStarted):
            self._unreachable, self._check_failed = set(), set()
        elif isinstance(entry, HostApplied) and entry.status is HostStatus.UNREACHABLE:
            self._unreachable.add(entry.host or "")
        elif isinstance(entry, HostVerified) and any(f.kind in _CHECK_KINDS for f in entry.failures):
            self._check_failed.add(entry.host or "")
        elif isinstance(entry, BatchFinished):
            return self._raise(entry, state, self._batch_signals(entry))
        elif isinstance(entry, RolledBack) and entry.failed:
            signals = {RiskSignal.ROLLBACK_FAILED: f"rollback failed on {', '.join(entry.failed)}"}
            return self._raise(entry, state, signals)
        elif isinstance(entry, ApprovalDecided) and entry.decision is Decision.REJECTED:
            why = f": {entry.comment}" if entry.comment else ""
            signals = {RiskSignal.APPROVAL_REJECTED: f"{entry.approver} rejected step {entry.step}{why}"}
            return self._raise(entry, state, signals)
        return []

    def _batch_signals(self, finished: BatchFinished) -> dict[RiskSignal, str]:
        label = finished.batch or ""
        signals: dict[RiskSignal, str] = {}
        if self._unreachable:
            signals[RiskSignal.UNREACHABLE] = f"unreachable in {label}: {', '.join(sorted(self._unreachable))}"
        if self._check_failed:
            signals[RiskSignal.CHECK_FAILED] = f"checks failed in {label}: {', '.join(sorted(self._check_failed))}"
        if finished.verdict is Verdict.HALTED:
            signals[RiskSignal.HALT] = f"the rollout halted at {label}"
        return signals

    def _raise(self, entry: Event, state: RunState, signals: dict[RiskSignal, str]) -> list[RiskRaised]:
        raised = []
        for risk in self.project.risks:
            seen = [note for signal, note in signals.items() if signal in risk.signals]
            if risk.id in state.materialized_risks or not seen or risk.step not in (None, entry.step):
                continue
            raised.append(
                RiskRaised(
                    run_id=entry.run_id,
                    project=entry.project,
                    step=entry.step,
                    risk_id=risk.id,
                    title=risk.title,
                    likelihood=risk.likelihood.value,
                    impact=risk.impact.value,
                    owner=risk.owner,
                    materialized=True,
                    note="; ".join(seen),
                )
            )
        return raised
