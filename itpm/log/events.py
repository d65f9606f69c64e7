"""The events of the project log: one typed model per kind of thing that happens in a project run.

Every event names its run, its project and when it happened; most name a step, a batch or a host. The log is
append-only: an event is never changed, a later event supersedes it (a rollback after an apply).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

__all__ = [
    "ApprovalDecided",
    "ApprovalRequested",
    "BatchFinished",
    "BatchStarted",
    "Event",
    "HostApplied",
    "HostVerified",
    "HostsWaited",
    "PhaseChanged",
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


class PhaseChanged(_EventBase):
    """The run entered a project phase."""

    kind: Literal["phase_changed"] = "phase_changed"
    phase: str


class StepAudited(_EventBase):
    """A step's checks ran on the scope (before changes, or the re-audit after them)."""

    kind: Literal["step_audited"] = "step_audited"
    stage: Literal["before", "after"]
    passed: list[str]
    failed: dict[str, list[str]]  # host -> "check: message" of each check that did not pass


class StepPlanned(_EventBase):
    """Check mode + diff of a step: which hosts would change, and which tasks."""

    kind: Literal["step_planned"] = "step_planned"
    changes: dict[str, list[str]]  # host -> tasks that would change it (empty: nothing to do)
    unreachable: list[str] = []


class ApprovalRequested(_EventBase):
    """A step waits for approval."""

    kind: Literal["approval_requested"] = "approval_requested"
    roles: list[str]
    requester: str


class ApprovalDecided(_EventBase):
    """Someone answered an approval: approved, rejected, or refused because they may not approve."""

    kind: Literal["approval_decided"] = "approval_decided"
    approver: str
    decision: Literal["approved", "rejected", "refused"]
    comment: str = ""
    reason: str = ""  # why a decision was refused (the requester approving their own run, a missing role)
    waited_s: float = 0.0


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
    status: str  # ok, changed, failed, unreachable, skipped
    changed_tasks: int = 0
    failed_task: str = ""
    message: str = ""
    duration_s: float = 0.0


class HostVerified(_EventBase):
    """A host's outcome of the step's checks after applying."""

    kind: Literal["host_verified"] = "host_verified"
    passed: bool
    failures: list[str] = []  # "check: message"


class BatchFinished(_EventBase):
    """A batch is done: its verdict and which hosts failed."""

    kind: Literal["batch_finished"] = "batch_finished"
    verdict: Literal["passed", "tolerated", "halted"]
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
    status: Literal["completed", "halted", "rejected", "dry_run", "failed"]


Event = Annotated[
    RunStarted
    | PhaseChanged
    | StepAudited
    | StepPlanned
    | ApprovalRequested
    | ApprovalDecided
    | HostsWaited
    | BatchStarted
    | HostApplied
    | HostVerified
    | BatchFinished
    | RolledBack
    | RunHalted
    | RunFinished,
    Field(discriminator="kind"),
]

event_adapter: TypeAdapter[Event] = TypeAdapter(Event)
