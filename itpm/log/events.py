"""The events of the project log: one typed model per kind of thing that happens in a project run.

Every event names its run, its project and when it happened; most name a step, a batch or a host. The log is
append-only: an event is never changed, a later event supersedes it (a rollback after an apply).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from itpm.models.failures import FailureKind, HostFailure, legacy_check_failure
from itpm.models.results import HostStatus
from itpm.models.statuses import Decision, RunEnd, Verdict

__all__ = [
    "ApprovalDecided",
    "ApprovalRequested",
    "BatchFinished",
    "BatchStarted",
    "CostBooked",
    "EmergencyDeclared",
    "Event",
    "GateSkipped",
    "HostApplied",
    "HostVerified",
    "HostsExcluded",
    "HostsMoved",
    "HostsWaited",
    "NoteAdded",
    "NoticeSent",
    "PhaseChanged",
    "RecoveryMeasured",
    "RecoveryStep",
    "ReviewRecorded",
    "RiskClosed",
    "RiskRaised",
    "RolledBack",
    "RunFinished",
    "RunHalted",
    "RunStarted",
    "StepAudited",
    "StepPlanned",
    "event_adapter",
    "now",
]


def now() -> datetime:
    """Return the current time in UTC (the log stores UTC only)."""
    return datetime.now(UTC)


class _EventBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str
    project: str
    at: datetime = Field(default_factory=now)
    step: str | None = None
    batch: str | None = None
    host: str | None = None


class RunStarted(_EventBase):
    """A run (or its resumption) started."""

    kind: Literal["run_started"] = "run_started"
    project_file: str
    title: str
    project_kind: str
    environment: str
    requester: str
    dry_run: bool = False
    resumed: bool = False
    hosts: list[str]
    steps: list[str]
    step_hosts: dict[str, list[str]] = {}  # hosts of each step, when a step narrows the scope
    change_classes: dict[str, str] = {}  # step -> its ChangeClass value ("normal"); absent from older logs


class PhaseChanged(_EventBase):
    """The run entered a project phase."""

    kind: Literal["phase_changed"] = "phase_changed"
    phase: str


class StepAudited(_EventBase):
    """A step's checks ran on the scope (before changes, or the re-audit after them)."""

    kind: Literal["step_audited"] = "step_audited"
    stage: Literal["before", "after"]
    checks: list[str] = []  # the name of every check that ran (so that a report can count passes per check)
    duration_s: float = 0.0  # how long the audit took
    passed: list[str]
    failed: dict[str, list[HostFailure]]  # host -> each check that did not pass there

    @field_validator("failed", mode="before")
    @classmethod
    def _typed_failures(cls, value: object) -> object:
        # Logs written before failures were typed hold "check: message" lines.
        if isinstance(value, dict):
            return {
                host: [legacy_check_failure(host, f) if isinstance(f, str) else f for f in lines]
                for host, lines in value.items()
            }
        return value


class StepPlanned(_EventBase):
    """Check mode + diff of a step: which hosts would change, and which tasks."""

    kind: Literal["step_planned"] = "step_planned"
    changes: dict[str, list[str]]  # host -> tasks that would change it (empty: nothing to do)
    # host -> a digest of each of those tasks' diff ("" without one), in the same order: an approval binds the
    # content of the change, not only the task names, and the log does not hold the diffs (they may hold secrets).
    diffs: dict[str, list[str]] = {}
    unreachable: list[str] = []
    duration_s: float = 0.0  # how long the plan took


class ApprovalRequested(_EventBase):
    """A step waits for approval."""

    kind: Literal["approval_requested"] = "approval_requested"
    roles: list[str]
    requester: str
    gate: str = ""  # which opening of the step's gate: "<step>#<n>"; a signed answer names it
    plan_digest: str = ""  # the plan an answer approves (itpm.signing.statement.plan_digest of its changes)
    signatures_required: bool = False
    allowed_signers: str = ""  # the allowed-signers list answers are verified against, as the run used it
    approvals_needed: int = 1  # from different people (and roles, when more than one)
    lapsed: str = ""  # why an earlier approval no longer holds (the plan changed since)


class ApprovalDecided(_EventBase):
    """Someone answered an approval: approved, rejected, or refused because they may not approve."""

    kind: Literal["approval_decided"] = "approval_decided"
    approver: str
    decision: Decision
    comment: str = ""
    reason: str = ""  # why a decision was refused (the requester approving their own run, a missing role)
    waited_s: float = 0.0
    role: str = ""  # the gate's role the approver answered in
    gate: str = ""  # the opening of the gate answered
    plan_digest: str = ""  # the plan approved
    signed: bool = False  # a good signature of a team member's key (False: a name typed into a form)
    signature: str = ""  # the signed statement and its signature, as given (also when refused: the evidence)
    signer_key: str = ""  # the fingerprint of the key that signed


class EmergencyDeclared(_EventBase):
    """The run is an emergency change: it skips the approval gates of ``steps``, flagged until a reviewer signs off."""

    kind: Literal["emergency_declared"] = "emergency_declared"
    reason: str
    by: str  # the requester, who declared it
    steps: list[str]  # the steps whose gates it skips
    roles: list[str]  # the roles that could have approved them: a reviewer needs one


class GateSkipped(_EventBase):
    """An emergency change went past a step's approval gate without waiting for it."""

    kind: Literal["gate_skipped"] = "gate_skipped"
    roles: list[str]  # who would have approved it
    reason: str  # the emergency's
    plan_digest: str = ""  # the plan that went unapproved


class ReviewRecorded(_EventBase):
    """A post-implementation review of an emergency change: who reviewed the log up to which event, or why refused."""

    kind: Literal["review_recorded"] = "review_recorded"
    reviewer: str
    role: str = ""  # the reviewer's role that could have approved a skipped gate
    comment: str = ""
    head: str = ""  # the hash of the run's last chained event when reviewed: what the review covers
    signed: bool = False  # a good signature of a team member's key over the review statement
    signature: str = ""  # the signed statement and its signature, as given (also when refused: the evidence)
    signer_key: str = ""  # the fingerprint of the key that signed
    allowed_signers: str = ""  # the list the signature was checked against
    refused: str = ""  # why it does not count ("" when it does)


class HostsWaited(_EventBase):
    """A batch has to wait for hosts locked by other runs (logged when the wait begins)."""

    kind: Literal["hosts_waited"] = "hosts_waited"
    holders: dict[str, str]  # host -> run id holding its lock


class BatchStarted(_EventBase):
    """A batch starts changing its hosts."""

    kind: Literal["batch_started"] = "batch_started"
    hosts: list[str]


class HostApplied(_EventBase):
    """A host's outcome of applying a step's playbook."""

    kind: Literal["host_applied"] = "host_applied"
    status: HostStatus
    failure_kind: FailureKind | None = None  # what went wrong when status is failed or unreachable
    changed_tasks: int = 0
    failed_task: str = ""
    message: str = ""
    duration_s: float = 0.0


class HostVerified(_EventBase):
    """A host's outcome of the step's checks after applying."""

    kind: Literal["host_verified"] = "host_verified"
    passed: bool
    failures: list[HostFailure] = []  # each check that did not pass (or why the host was not verified)

    @model_validator(mode="before")
    @classmethod
    def _typed_failures(cls, data: object) -> object:
        # Logs written before failures were typed hold "check: message" lines.
        if isinstance(data, dict) and any(isinstance(f, str) for f in data.get("failures", [])):
            host = str(data.get("host") or "")
            failures = [legacy_check_failure(host, f) if isinstance(f, str) else f for f in data["failures"]]
            return {**data, "failures": failures}
        return data


class BatchFinished(_EventBase):
    """A batch is done: its verdict and which hosts failed."""

    kind: Literal["batch_finished"] = "batch_finished"
    verdict: Verdict
    ok: list[str]
    failed: list[str]


class RolledBack(_EventBase):
    """A batch's hosts were rolled back with the step's rollback playbook."""

    kind: Literal["rolled_back"] = "rolled_back"
    hosts: list[str]
    ok: list[str]
    failed: dict[str, str]  # host -> why its rollback failed


class RunHalted(_EventBase):
    """The run stopped before its end; ``next_steps`` tells a person what to do."""

    kind: Literal["run_halted"] = "run_halted"
    reason: str
    next_steps: str


class RunFinished(_EventBase):
    """The run ended."""

    kind: Literal["run_finished"] = "run_finished"
    status: RunEnd
    note: str = ""  # for a stopped run: what stopped it, where, and how to carry on


class CostBooked(_EventBase):
    """Money spent: team time (hours x the role's rate), per-host costs, or anything a person books by hand.

    The amount is fixed when booked, so a later change of rates in the project file does not rewrite history.
    """

    kind: Literal["cost_booked"] = "cost_booked"
    category: Literal["labour", "hosts", "other"]
    amount: Decimal
    currency: str
    role: str = ""
    person: str = ""
    hours: float = 0.0
    hosts: list[str] = []
    note: str = ""
    automatic: bool = True  # booked by the run itself (False: `itpm book`)


class RiskRaised(_EventBase):
    """A risk was raised during the run, or one of the project file's risks materialized."""

    kind: Literal["risk_raised"] = "risk_raised"
    risk_id: str
    title: str
    likelihood: Literal["low", "medium", "high"]
    impact: Literal["low", "medium", "high"]
    owner: str
    materialized: bool = False  # it happened (not only became more likely)
    note: str = ""
    by: str = "itpm"


class RiskClosed(_EventBase):
    """A risk is no longer open."""

    kind: Literal["risk_closed"] = "risk_closed"
    risk_id: str
    note: str = ""
    by: str


class NoteAdded(_EventBase):
    """A person's note on the run (a decision, a call with a vendor, a lesson)."""

    kind: Literal["note_added"] = "note_added"
    author: str
    text: str


class NoticeSent(_EventBase):
    """A stakeholder was told (or could not be told) about an event; the message itself is not logged."""

    kind: Literal["notice_sent"] = "notice_sent"
    stakeholder: str
    channel: Literal["email", "webhook", "file"]
    about: str  # the kind of event the notice is about
    subject: str
    delivered: bool
    error: str = ""


class HostsExcluded(_EventBase):
    """Hosts left out of a step because an earlier step did not pass on them (a host never gets half a change)."""

    kind: Literal["hosts_excluded"] = "hosts_excluded"
    hosts: dict[str, str]  # host -> the earlier step it did not pass


class HostsMoved(_EventBase):
    """Hosts moved from one inventory group to another (an onboarded server joins its target group)."""

    kind: Literal["hosts_moved"] = "hosts_moved"
    hosts: list[str]
    from_group: str
    to_group: str
    inventory: str


class RecoveryStep(_EventBase):
    """One step of a recovery runbook, as on-call saw it: what it did, how long, and what to do if it failed."""

    kind: Literal["recovery_step"] = "recovery_step"
    status: Literal["done", "failed", "skipped"]
    title: str
    detail: str = ""
    duration_s: float = 0.0
    next_action: str = ""  # for a failed step: what on-call does now


class RecoveryMeasured(_EventBase):
    """How fast and how fresh a recovery was, against the runbook's targets."""

    kind: Literal["recovery_measured"] = "recovery_measured"
    drill: bool
    rto_s: float  # from the trigger to the service verified from the clients
    rpo_s: float  # age of the restored data at the trigger
    rto_target_s: float
    rpo_target_s: float
    restored_backup: str

    @property
    def met(self) -> bool:
        """Return whether both targets were met."""
        return self.rto_s <= self.rto_target_s and self.rpo_s <= self.rpo_target_s


Event = Annotated[
    RunStarted
    | PhaseChanged
    | StepAudited
    | StepPlanned
    | ApprovalRequested
    | ApprovalDecided
    | EmergencyDeclared
    | GateSkipped
    | ReviewRecorded
    | HostsWaited
    | BatchStarted
    | HostApplied
    | HostVerified
    | BatchFinished
    | RolledBack
    | RunHalted
    | RunFinished
    | CostBooked
    | RiskRaised
    | RiskClosed
    | NoteAdded
    | NoticeSent
    | HostsExcluded
    | HostsMoved
    | RecoveryStep
    | RecoveryMeasured,
    Field(discriminator="kind"),
]

event_adapter: TypeAdapter[Event] = TypeAdapter(Event)
