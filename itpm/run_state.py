"""A run's state, folded from its project log events: the one place that knows what happened in a run.

The engine asks it which hosts are done, whether a gate was approved, whether the baseline was taken and which
hosts the run may touch; every report (status, artifacts, HTML) shows the same fold. Two readers of one log can
therefore not disagree, as the engine and the reports once did on a halted batch. Appending an event updates
the state in place (``apply``); nothing re-reads the whole run.

>>> state = RunState.of(events)  # doctest: +SKIP
>>> state.done("baseline"), state.approved("baseline"), state.progress_percent  # doctest: +SKIP
({'h1', 'h2'}, True, 40.0)

How one host stands in one step, event by event:

- ``BatchStarted`` -> applying; ``HostApplied`` -> applied (or failed); ``HostVerified`` -> verified (or failed).
- ``BatchFinished`` with verdict halted -> the batch's verified hosts are *halted*: not done, whatever their checks
  said, because the batch is rolled back (or, without a rollback playbook, left for the resumption to apply
  again); a run killed during the rollback leaves the hosts half rolled back, so they are redone as a whole.
  Its failed hosts stay failed.
- ``RolledBack`` -> rolled back (not done).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from itpm.gate_book import GateBook
from itpm.log.events import (
    ApprovalDecided,
    ApprovalRequested,
    BatchFinished,
    BatchStarted,
    EmergencyDeclared,
    Event,
    GateSkipped,
    HostApplied,
    HostsExcluded,
    HostVerified,
    PhaseChanged,
    ReviewRecorded,
    RiskRaised,
    RolledBack,
    RunFinished,
    RunHalted,
    RunStarted,
    StepAudited,
    StepPlanned,
)
from itpm.models.change_control import ChangeClass
from itpm.models.failures import HostFailure
from itpm.models.results import HostStatus
from itpm.models.statuses import Decision, RunEnd, Verdict

__all__ = ["HostStepState", "RunState"]


class HostStepState(StrEnum):
    """Where one host stands in one step."""

    PENDING = "pending"
    APPLYING = "applying"
    APPLIED = "applied, not yet verified"
    VERIFIED = "verified"
    FAILED = "failed"
    HALTED = "halted, to redo"  # in a batch that halted: rolled back next, or applied again on resume
    ROLLED_BACK = "rolled back"


@dataclass
class RunState:
    """A run as its log tells it, kept up to date one event at a time."""

    run_id: str = ""
    project: str = ""
    title: str = ""
    requester: str = ""
    phase: str = "not started"
    finished: RunEnd | None = None  # None while running (or not started)
    dry_run: bool = False
    first_start: RunStarted | None = None  # the start that pinned the run's hosts
    steps: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    step_hosts: dict[str, list[str]] = field(default_factory=dict)  # pinned at the first start
    change_classes: dict[str, ChangeClass] = field(default_factory=dict)  # step -> class, at the first start
    excluded: dict[str, dict[str, str]] = field(default_factory=dict)  # step -> host -> earlier step it failed
    states: dict[tuple[str, str], HostStepState] = field(default_factory=dict)  # (step, host) -> state
    problems: dict[tuple[str, str], str] = field(default_factory=dict)  # (step, host) -> what failed, in words
    failures: dict[tuple[str, str], list[HostFailure]] = field(default_factory=dict)  # the latest, typed
    baselines: set[str] = field(default_factory=set)  # steps audited before any change
    gates: GateBook = field(default_factory=GateBook)  # openings, answers and plans of the run's gates
    waiting_for_approval: str = ""  # the step whose gate is open
    emergency: str = ""  # why the run is an emergency change that skips gates ("" when it is not one)
    emergency_steps: list[str] = field(default_factory=list)  # the steps whose gates it skips
    emergency_roles: list[str] = field(default_factory=list)  # roles that could have approved them: reviewers'
    gates_skipped: list[str] = field(default_factory=list)  # the steps whose gates it went past
    review: ReviewRecorded | None = None  # the post-implementation review that covers every gate skipped
    verdicts: dict[str, Verdict] = field(default_factory=dict)  # batch label -> its latest verdict
    materialized_risks: set[str] = field(default_factory=set)
    halt_reason: str = ""
    next_steps: str = ""
    events: int = 0  # how many events were folded

    @classmethod
    def of(cls, events: Iterable[Event]) -> RunState:
        """Fold a run's events, oldest first."""
        state = cls()
        for entry in events:
            state.apply(entry)
        return state

    # -- questions the engine and the reports ask -------------------------------------------------------------

    def hosts_of(self, step: str) -> list[str]:
        """Return the hosts ``step`` works on: pinned at the first start, without the hosts left out of it."""
        left_out = self.excluded.get(step, {})
        return [h for h in self.step_hosts.get(step, self.hosts) if h not in left_out]

    def done(self, step: str) -> set[str]:
        """Return the step's hosts applied and verified by this run (a halted or rolled-back host is not done)."""
        return {host for (s, host), state in self.states.items() if s == step and state is HostStepState.VERIFIED}

    @property
    def decisions(self) -> dict[str, list[ApprovalDecided]]:
        """Return each step's answers at its gate, oldest first."""
        return self.gates.decisions

    def approved(self, step: str) -> bool:
        """Return whether enough people allowed to approve said yes to the step's gate, for the plan it now has."""
        return self.gates.approved(step, self.done(step))

    def approval_lapsed(self, step: str) -> str:
        """Return why the step's earlier approvals no longer hold (the plan changed since; "" when none lapsed)."""
        return self.gates.lapsed(step, self.done(step))

    @property
    def approvals(self) -> list[str]:
        """Return each answer at a gate in words: ``'baseline: approved by chris (in the window)'``."""
        lines = []
        for answers in self.decisions.values():
            for d in answers:
                why = d.reason or d.comment
                proof = "" if d.decision is Decision.REFUSED else (", signed" if d.signed else ", unsigned")
                lines.append(f"{d.step}: {d.decision.value} by {d.approver}{proof}" + (f" ({why})" if why else ""))
        return lines

    @property
    def review_pending(self) -> bool:
        """Return whether the run is an emergency change still waiting for its post-implementation review."""
        return bool(self.emergency) and self.review is None

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

    # -- the fold ---------------------------------------------------------------------------------------------

    def apply(self, entry: Event) -> None:  # noqa: PLR0912 - one branch per event kind, in one place on purpose
        """Fold one more event into the state."""
        self.events += 1
        step = entry.step or ""
        key = (step, entry.host or "")
        if isinstance(entry, RunStarted):
            self._started(entry)
        elif isinstance(entry, PhaseChanged):
            self.phase = entry.phase
        elif isinstance(entry, StepAudited):
            if entry.stage == "before":
                self.baselines.add(step)
        elif isinstance(entry, StepPlanned):
            self.gates.apply(entry)
        elif isinstance(entry, ApprovalRequested):
            self.gates.apply(entry)
            self.waiting_for_approval = step
        elif isinstance(entry, ApprovalDecided):
            self.gates.apply(entry)
            if entry.decision is Decision.REJECTED or self.approved(step):
                self.waiting_for_approval = ""
        elif isinstance(entry, EmergencyDeclared | GateSkipped | ReviewRecorded):
            self._emergency(entry)
        elif isinstance(entry, BatchStarted):
            for host in entry.hosts:
                self.states[(step, host)] = HostStepState.APPLYING
        elif isinstance(entry, HostApplied):
            self._applied(key, entry)
        elif isinstance(entry, HostVerified):
            self._verified(key, entry)
        elif isinstance(entry, BatchFinished):
            self.verdicts[entry.batch or ""] = entry.verdict
            if entry.verdict is Verdict.HALTED:  # its failed hosts stay failed; its verified ones are undone
                for host in entry.ok:
                    self.states[(step, host)] = HostStepState.HALTED
        elif isinstance(entry, RolledBack):
            for host in entry.hosts:
                self.states[(step, host)] = HostStepState.ROLLED_BACK
        elif isinstance(entry, HostsExcluded):
            self.excluded[step] = {**self.excluded.get(step, {}), **entry.hosts}
            for host, earlier in entry.hosts.items():
                self.problems[(step, host)] = f"left out: did not pass step {earlier}"
        elif isinstance(entry, RiskRaised):
            if entry.materialized:
                self.materialized_risks.add(entry.risk_id)
        elif isinstance(entry, RunHalted):
            self.halt_reason, self.next_steps = entry.reason, entry.next_steps
        elif isinstance(entry, RunFinished):
            self.finished = entry.status
            if entry.status is RunEnd.COMPLETED:
                self.halt_reason = self.next_steps = ""

    def _started(self, entry: RunStarted) -> None:
        self.run_id, self.project, self.title = entry.run_id, entry.project, entry.title
        self.requester, self.dry_run, self.finished = entry.requester, entry.dry_run, None
        if self.first_start is None:
            self.first_start = entry
        # A resumption logs the hosts its first start pinned; the first start's lists stay the run's.
        pinned = self.first_start
        self.steps, self.hosts, self.step_hosts = pinned.steps, pinned.hosts, pinned.step_hosts
        # The class the run started under stays its class: the gate a resumption asks for must not change.
        self.change_classes = {step: ChangeClass(value) for step, value in pinned.change_classes.items()}

    def _emergency(self, entry: EmergencyDeclared | GateSkipped | ReviewRecorded) -> None:
        # A review covers the log up to its head: a gate skipped after it (a resumption) needs another one.
        if isinstance(entry, ReviewRecorded):
            self.review = self.review if entry.refused else entry
            return
        self.review = None
        if isinstance(entry, GateSkipped):
            self.gates_skipped.append(entry.step or "")
            if self.waiting_for_approval == entry.step:  # a resumption with --emergency passes an open gate
                self.waiting_for_approval = ""
            return
        self.emergency = entry.reason
        self.emergency_steps += [s for s in entry.steps if s not in self.emergency_steps]
        self.emergency_roles += [r for r in entry.roles if r not in self.emergency_roles]

    def _applied(self, key: tuple[str, str], entry: HostApplied) -> None:
        if entry.status not in (HostStatus.FAILED, HostStatus.UNREACHABLE):
            self.states[key] = HostStepState.APPLIED
            return
        self.states[key] = HostStepState.FAILED
        where = f" at {entry.failed_task}" if entry.failed_task else ""  # unreachable before any task: no task
        lines = entry.message.strip().splitlines()
        self.problems[key] = f"{entry.status.value}{where}: {lines[-1] if lines else ''}"

    def _verified(self, key: tuple[str, str], entry: HostVerified) -> None:
        self.states[key] = HostStepState.VERIFIED if entry.passed else HostStepState.FAILED
        self.failures[key] = list(entry.failures)
        if entry.passed:  # fixed and resumed: what failed before no longer needs attention (the log keeps it)
            self.problems.pop(key, None)
        else:
            self.problems[key] = "; ".join(f.summary for f in entry.failures) or "checks failed"
