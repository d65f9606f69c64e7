"""The change record of a run, as values: who asked for what, the plan, who approved it, what happened to each host.

Everything here but ``project_file`` is derived from the run's chained events (itpm.evidence.change_record), so
``itpm evidence verify`` rebuilds it from ``events.jsonl`` and compares. ``project_file`` holds what only the
project file says (objectives, planned risks), read when the archive was built: the chain does not cover it.

>>> record.steps[0].batches[0].verdict, record.approvals[0].signed  # doctest: +SKIP
(<Verdict.PASSED: 'passed'>, True)
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from itpm.models.failures import HostFailure
from itpm.models.results import HostStatus
from itpm.models.risk import Risk
from itpm.models.statuses import Decision, RunEnd, Verdict

__all__ = [
    "Approval",
    "Audit",
    "Batch",
    "ChangeRecord",
    "CheckBeforeAfter",
    "Halt",
    "HostResult",
    "Plan",
    "ProjectFilePart",
    "RaisedRisk",
    "Rollback",
    "SignedFiles",
    "StepRecord",
    "Times",
]


class _Value(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignedFiles(_Value):
    """Where an answer's signed statement, its signature and the allowed signers it was checked against are."""

    statement: str  # "approvals/1-baseline-chris.statement"
    signature: str
    allowed_signers: str | None  # None: no gate opening before the answer recorded a list


class Approval(_Value):
    """One answer at a gate, as logged; ``files`` when it carried a signature (``line``: its line in events.jsonl)."""

    line: int
    at: datetime
    step: str
    gate: str
    approver: str
    decision: Decision
    role: str
    signed: bool
    signer_key: str
    plan_digest: str
    comment: str
    reason: str  # why it was refused
    waited_s: float
    files: SignedFiles | None = None


class Plan(_Value):
    """A step's check-mode plan: the tasks that would change on each host (empty list: nothing to do)."""

    at: datetime
    digest: str  # what an approval names (itpm.signing.statement.plan_digest)
    changes: dict[str, list[str]]
    unreachable: list[str]


class Audit(_Value):
    """A step's checks on its scope, before the change or after it."""

    at: datetime
    stage: str
    checks: list[str]
    passed: list[str]  # hosts passing every check
    failed: dict[str, list[HostFailure]]


class CheckBeforeAfter(_Value):
    """One check of a step: the hosts failing it before the change and after (None: not audited after)."""

    check: str
    hosts: int
    failing_before: list[str]
    failing_after: list[str] | None


class HostResult(_Value):
    """One host in one batch: how applying went, then its checks (None: the step did not get that far)."""

    host: str
    applied: HostStatus | None = None
    changed_tasks: int = 0
    failed_task: str = ""
    message: str = ""
    verified: bool | None = None
    check_failures: list[HostFailure] = []


class Batch(_Value):
    """A batch of a step: when it ran, its verdict (None: it never finished) and each host's result."""

    label: str
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None
    verdict: Verdict | None
    ok: list[str]
    failed: list[str]
    hosts: list[HostResult]


class Rollback(_Value):
    """A batch rolled back: which hosts, which came back, and why the others did not."""

    at: datetime
    batch: str
    hosts: list[str]
    ok: list[str]
    failed: dict[str, str]


class StepRecord(_Value):
    """One step of the run: its change class, hosts, plans, audits, batches, rollbacks, compliance before/after."""

    name: str
    change_class: str | None
    hosts: list[str]
    excluded: dict[str, str]  # host -> the earlier step it did not pass
    plans: list[Plan]
    audits: list[Audit]
    batches: list[Batch]
    rollbacks: list[Rollback]
    compliance: list[CheckBeforeAfter]


class Halt(_Value):
    """The run stopped before its end: where, why, and what a person was told to do."""

    at: datetime
    step: str | None
    batch: str | None
    reason: str
    next_steps: str


class RaisedRisk(_Value):
    """A risk raised (or found materialized) during the run, and its closing if it was closed."""

    at: datetime
    risk_id: str
    title: str
    likelihood: str
    impact: str
    owner: str
    materialized: bool
    note: str
    by: str
    closed_at: datetime | None = None
    closed_note: str = ""


class Times(_Value):
    """When the run started (each start: a resumption starts it again) and ended, and how long it took."""

    started_at: datetime
    starts: list[datetime]
    ended_at: datetime | None
    status: RunEnd | None  # None: no end logged (running, or crashed)
    duration_s: float | None


class ProjectFilePart(_Value):
    """What only the project file says, as read when the archive was built: not covered by the hash chain."""

    path: str
    objectives: list[str]
    risks: list[Risk]


class ChangeRecord(_Value):
    """The whole change record of one run."""

    run: str
    project: str
    title: str
    project_kind: str
    environment: str
    requester: str
    project_file_path: str
    dry_run: bool
    chain_head: str
    events: int
    times: Times
    change_classes: dict[str, str]  # step -> its change class, when the run logged them
    steps: list[StepRecord]
    approvals: list[Approval]
    halts: list[Halt]
    risks: list[RaisedRisk]
    project_file: ProjectFilePart | None = None
