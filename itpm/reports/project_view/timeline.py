"""What took time in a run, for timeline charts: its phases, its batches, and its waits for approval.

A span still open at the end (the current phase, a running batch, a pending approval) ends at the run's end,
or at ``as_of`` while the run goes on.

>>> [(s.lane, s.label, s.outcome) for s in timeline_spans(events, as_of)]  # doctest: +SKIP
[('phase', 'execution', 'current'), ('batch', 's/canary', 'passed'), ('approval', 'approval of s', 'waiting')]
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from itpm.log.events import (
    ApprovalDecided,
    ApprovalRequested,
    BatchFinished,
    BatchStarted,
    Event,
    PhaseChanged,
    RunFinished,
)
from itpm.reports.project_view.model import Span

__all__ = ["timeline_spans"]


def timeline_spans(events: Sequence[Event], as_of: datetime) -> tuple[Span, ...]:
    """Return the phases, batches and approval waits of the run, by start; open ones end at the end or ``as_of``."""
    spans: list[Span] = []
    phase: tuple[str, datetime] | None = None
    batches: dict[str, datetime] = {}
    approvals: dict[str, datetime] = {}
    end = as_of
    for entry in events:
        if isinstance(entry, PhaseChanged):
            if phase is not None:
                spans.append(Span("phase", phase[0], phase[1], entry.at, "done"))
            phase = (entry.phase, entry.at)
        elif isinstance(entry, RunFinished):
            if phase is not None:
                spans.append(Span("phase", phase[0], phase[1], entry.at, "done"))
            phase, end = None, entry.at
        elif isinstance(entry, BatchStarted):
            batches[entry.batch or ""] = entry.at
        elif isinstance(entry, BatchFinished) and (entry.batch or "") in batches:
            spans.append(Span("batch", entry.batch or "", batches.pop(entry.batch or ""), entry.at, entry.verdict))
        elif isinstance(entry, ApprovalRequested):
            approvals[entry.step or ""] = entry.at
        elif isinstance(entry, ApprovalDecided) and entry.decision != "refused" and (entry.step or "") in approvals:
            spans.append(
                Span("approval", f"approval of {entry.step}", approvals.pop(entry.step or ""), entry.at, entry.decision)
            )
    if phase is not None:
        spans.append(Span("phase", phase[0], phase[1], end, "current"))
    spans += [Span("batch", label, start, end, "running") for label, start in batches.items()]
    spans += [Span("approval", f"approval of {step}", start, end, "waiting") for step, start in approvals.items()]
    return tuple(sorted(spans, key=lambda s: s.start))
