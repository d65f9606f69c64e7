"""A run's change record built from its chained events: one pass over events.jsonl, nothing else but the project file.

Pure: the event lines in, a ``ChangeRecord`` out. ``itpm evidence verify`` calls it again on the archive's lines
and compares, so the record cannot say what the events do not.

>>> record = change_record(lines)  # doctest: +SKIP
>>> record.times.status, [s.name for s in record.steps]  # doctest: +SKIP
(<RunEnd.COMPLETED: 'completed'>, ['baseline'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from itpm.evidence.members import EventLine, signed_answers
from itpm.evidence.record import (
    Approval,
    Audit,
    Batch,
    ChangeRecord,
    CheckBeforeAfter,
    Halt,
    HostResult,
    Plan,
    ProjectFilePart,
    RaisedRisk,
    Rollback,
    SignedFiles,
    StepRecord,
    Times,
)
from itpm.log.events import (
    ApprovalDecided,
    BatchFinished,
    BatchStarted,
    Event,
    HostApplied,
    HostsExcluded,
    HostVerified,
    RiskClosed,
    RiskRaised,
    RolledBack,
    RunFinished,
    RunHalted,
    RunStarted,
    StepAudited,
    StepPlanned,
    event_adapter,
)
from itpm.reports.project_view.compliance import check_comparisons
from itpm.reports.project_view.model import CheckComparison
from itpm.signing.statement import plan_digest

__all__ = ["change_record"]


@dataclass
class _Step:
    """A step's parts as they are folded, turned into a ``StepRecord`` at the end."""

    plans: list[Plan] = field(default_factory=list)
    audits: list[Audit] = field(default_factory=list)
    batches: list[Batch] = field(default_factory=list)  # every attempt: a resumption runs a batch again
    latest: dict[str, int] = field(default_factory=dict)  # batch label -> its latest attempt in ``batches``
    rollbacks: list[Rollback] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)

    def update(self, label: str | None, **changes: Any) -> None:  # noqa: ANN401 - a Batch's fields
        """Update the latest attempt of batch ``label`` (an event of a batch never started is left out)."""
        at = self.latest.get(label or "")
        if at is not None:
            self.batches[at] = self.batches[at].model_copy(update=changes)

    def host(self, label: str | None, host: str, **changes: Any) -> None:  # noqa: ANN401 - a HostResult's fields
        """Update ``host``'s result in the latest attempt of batch ``label``."""
        at = self.latest.get(label or "")
        if at is None:
            return
        results = {r.host: r for r in self.batches[at].hosts}
        results[host] = results.get(host, HostResult(host=host)).model_copy(update=changes)
        self.update(label, hosts=list(results.values()))


def _change_classes(started: Mapping[str, Any] | None) -> dict[str, str]:
    """Return the step -> change class map a run's start logged, if it logged one (older runs did not)."""
    classes = started.get("change_classes") if started is not None else None
    if not isinstance(classes, Mapping):
        return {}
    # In the run's step order: the log keeps the map as written, events.jsonl with its keys sorted.
    order = [str(s) for s in started.get("steps", [])] if started is not None else []
    rank = {step: i for i, step in enumerate(order)}
    ordered = sorted(classes.items(), key=lambda item: (rank.get(str(item[0]), len(rank)), str(item[0])))
    return {str(step): str(value) for step, value in ordered}


def _approval(line: int, entry: ApprovalDecided, files: SignedFiles | None) -> Approval:
    return Approval(
        line=line,
        at=entry.at,
        step=entry.step or "",
        gate=entry.gate,
        approver=entry.approver,
        decision=entry.decision,
        role=entry.role,
        signed=entry.signed,
        signer_key=entry.signer_key,
        plan_digest=entry.plan_digest,
        comment=entry.comment,
        reason=entry.reason,
        waited_s=entry.waited_s,
        files=files,
    )


@dataclass
class _Fold:
    """The record's parts, folded one event at a time."""

    files: dict[int, SignedFiles]  # events.jsonl line -> the files of the signed answer logged there
    steps: dict[str, _Step]
    approvals: list[Approval] = field(default_factory=list)
    halts: list[Halt] = field(default_factory=list)
    risks: dict[str, RaisedRisk] = field(default_factory=dict)
    finished: RunFinished | None = None

    def apply(self, number: int, entry: Event) -> None:
        """Fold the event on line ``number``."""
        if entry.step:
            self._step_event(self.steps.setdefault(entry.step, _Step()), entry)
        if isinstance(entry, ApprovalDecided):
            self.approvals.append(_approval(number, entry, self.files.get(number)))
        elif isinstance(entry, RunHalted):
            self.halts.append(
                Halt(at=entry.at, step=entry.step, batch=entry.batch, reason=entry.reason, next_steps=entry.next_steps)
            )
        elif isinstance(entry, RiskRaised):
            self.risks[entry.risk_id] = RaisedRisk(
                at=entry.at,
                risk_id=entry.risk_id,
                title=entry.title,
                likelihood=entry.likelihood,
                impact=entry.impact,
                owner=entry.owner,
                materialized=entry.materialized,
                note=entry.note,
                by=entry.by,
            )
        elif isinstance(entry, RiskClosed) and entry.risk_id in self.risks:
            closed = {"closed_at": entry.at, "closed_note": entry.note}
            self.risks[entry.risk_id] = self.risks[entry.risk_id].model_copy(update=closed)
        elif isinstance(entry, RunFinished):
            self.finished = entry
        elif isinstance(entry, RunStarted):
            self.finished = None  # a resumption: the run's end is a RunFinished after its last start

    @staticmethod
    def _step_event(step: _Step, entry: Event) -> None:
        if isinstance(entry, StepPlanned):
            digest = plan_digest(entry.changes, entry.diffs)
            step.plans.append(Plan(at=entry.at, digest=digest, changes=entry.changes, unreachable=entry.unreachable))
        elif isinstance(entry, StepAudited):
            step.audits.append(
                Audit(at=entry.at, stage=entry.stage, checks=entry.checks, passed=entry.passed, failed=entry.failed)
            )
        elif isinstance(entry, BatchStarted):
            label = entry.batch or ""
            step.latest[label] = len(step.batches)
            hosts = [HostResult(host=h) for h in entry.hosts]
            step.batches.append(
                Batch(
                    label=label,
                    started_at=entry.at,
                    finished_at=None,
                    duration_s=None,
                    verdict=None,
                    ok=[],
                    failed=[],
                    hosts=hosts,
                )
            )
        elif isinstance(entry, HostApplied):
            step.host(
                entry.batch,
                entry.host or "",
                applied=entry.status,
                changed_tasks=entry.changed_tasks,
                failed_task=entry.failed_task,
                message=entry.message,
            )
        elif isinstance(entry, HostVerified):
            step.host(entry.batch, entry.host or "", verified=entry.passed, check_failures=entry.failures)
        elif isinstance(entry, BatchFinished) and (entry.batch or "") in step.latest:
            started = step.batches[step.latest[entry.batch or ""]].started_at
            step.update(
                entry.batch,
                finished_at=entry.at,
                duration_s=(entry.at - started).total_seconds(),
                verdict=entry.verdict,
                ok=entry.ok,
                failed=entry.failed,
            )
        elif isinstance(entry, RolledBack):
            step.rollbacks.append(
                Rollback(at=entry.at, batch=entry.batch or "", hosts=entry.hosts, ok=entry.ok, failed=entry.failed)
            )
        elif isinstance(entry, HostsExcluded):
            step.excluded.update(entry.hosts)


def _step_record(
    name: str, parts: _Step, first: RunStarted, change_class: str | None, compared: Sequence[CheckComparison]
) -> StepRecord:
    return StepRecord(
        name=name,
        change_class=change_class,
        hosts=first.step_hosts.get(name, first.hosts),
        excluded=parts.excluded,
        plans=parts.plans,
        audits=parts.audits,
        batches=parts.batches,
        rollbacks=parts.rollbacks,
        compliance=[
            CheckBeforeAfter(
                check=c.check,
                hosts=c.hosts,
                failing_before=list(c.failing_before),
                failing_after=None if c.failing_after is None else list(c.failing_after),
            )
            for c in compared
            if c.step == name
        ],
    )


def change_record(lines: Sequence[EventLine], project_file: ProjectFilePart | None = None) -> ChangeRecord:
    """Return the change record of the run whose event lines (in chain order) are ``lines``.

    Raises ValueError (pydantic's ValidationError is one) when a line's payload is not an itpm event, or when
    the lines hold no ``run_started``.
    """
    events: list[Event] = [event_adapter.validate_python(line.event) for line in lines]
    starts = [e for e in events if isinstance(e, RunStarted)]
    if not starts:
        raise ValueError("the events hold no run_started: not a whole run")
    first = starts[0]
    files = {
        answer.answer_line: SignedFiles(
            statement=answer.statement_name, signature=answer.signature_name, allowed_signers=answer.signers_name
        )
        for answer in signed_answers(lines)
    }
    fold = _Fold(files=files, steps={name: _Step() for name in first.steps})
    for number, entry in enumerate(events, start=1):
        fold.apply(number, entry)
    ended = fold.finished
    compared = check_comparisons(events)
    classes = _change_classes(next((line.event for line in lines if line.kind == "run_started"), None))
    return ChangeRecord(
        run=first.run_id,
        project=first.project,
        title=first.title,
        project_kind=first.project_kind,
        environment=first.environment,
        requester=first.requester,
        project_file_path=first.project_file,
        dry_run=first.dry_run,
        chain_head=lines[-1].hash,
        events=len(lines),
        times=Times(
            started_at=first.at,
            starts=[s.at for s in starts],
            ended_at=ended.at if ended else None,
            status=ended.status if ended else None,
            duration_s=(ended.at - first.at).total_seconds() if ended else None,
        ),
        change_classes=classes,
        steps=[_step_record(name, parts, first, classes.get(name), compared) for name, parts in fold.steps.items()],
        approvals=fold.approvals,
        halts=fold.halts,
        risks=list(fold.risks.values()),
        project_file=project_file,
    )
