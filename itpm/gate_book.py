"""A run's approval gates as its log tells them: each gate's latest opening, its answers, and whether they hold.

An approval holds for the plan it saw. The opening names the plan's digest, the answer records it, and every
plan the run logs is kept by digest; when a later plan (a resumed run plans again) would do more than the approved
one on a host the step has not yet done (a new host, a new task, another diff), the approval *lapses* and the gate
must be answered again, told what changed. Doing less stays covered (an apply cut short, then resumed, plans only
what is left), and hosts already done are left out: having changed them, the run plans nothing there.

>>> book.approved("baseline", done=set())  # doctest: +SKIP
False
>>> book.lapsed("baseline", done=set())  # doctest: +SKIP
"the approval by chris (plan sha256:3f1c…) no longer holds: the plan changed: h2 would also change 'motd'"
"""

from __future__ import annotations

from dataclasses import dataclass, field

from itpm.log.events import ApprovalDecided, ApprovalRequested, StepPlanned
from itpm.models.statuses import Decision
from itpm.signing.statement import plan_digest

__all__ = ["GateBook", "plan_changes"]

_LISTED = 5  # hosts named in a lapse's reason; the rest are counted


def _pairs(plan: StepPlanned, host: str) -> list[tuple[str, str]]:
    tasks = plan.changes.get(host, [])
    digests = plan.diffs.get(host, [])
    return [(task, digests[i] if i < len(digests) else "") for i, task in enumerate(tasks)]


def plan_changes(approved: StepPlanned, now: StepPlanned, done: set[str]) -> list[str]:
    """Return what the plan ``now`` would do beyond ``approved`` on hosts not ``done``, one phrase per host.

    Doing less than was approved is covered by the approval: a host the run already changed in part (an apply
    cut short, then resumed) plans fewer tasks. A host new to the plan, a task not approved there, or an approved
    task whose diff is another one, is not.
    """
    differences = []
    for host in sorted(set(now.changes) - done):
        after = _pairs(now, host)
        if not after:
            continue
        if host not in approved.changes:
            differences.append(f"{host} is new in the plan ({len(after)} tasks)")
            continue
        before = _pairs(approved, host)
        new_tasks = [task for task, _ in after if task not in {t for t, _ in before}]
        other_diffs = [task for task, diff in after if (task, diff) not in before and task not in new_tasks]
        if new_tasks:
            differences.append(f"{host} would also change {', '.join(repr(t) for t in new_tasks)}")
        if other_diffs:
            differences.append(f"{host} would change {', '.join(repr(t) for t in other_diffs)} differently")
    return differences


@dataclass
class GateBook:
    """Gate openings, answers and plans of one run, folded one event at a time (``RunState`` feeds it)."""

    requests: dict[str, ApprovalRequested] = field(default_factory=dict)  # step -> its latest opening
    openings: dict[str, int] = field(default_factory=dict)  # step -> how often its gate opened
    decisions: dict[str, list[ApprovalDecided]] = field(default_factory=dict)  # step -> answers, oldest first
    plans: dict[str, StepPlanned] = field(default_factory=dict)  # step -> its latest plan
    plan_of_digest: dict[str, StepPlanned] = field(default_factory=dict)

    def apply(self, entry: ApprovalRequested | ApprovalDecided | StepPlanned) -> None:
        """Fold one gate or plan event."""
        step = entry.step or ""
        if isinstance(entry, ApprovalRequested):
            self.requests[step] = entry
            self.openings[step] = self.openings.get(step, 0) + 1
        elif isinstance(entry, ApprovalDecided):
            self.decisions.setdefault(step, []).append(entry)
        else:
            self.plans[step] = entry
            self.plan_of_digest[plan_digest(entry.changes, entry.diffs)] = entry

    def current_digest(self, step: str) -> str:
        """Return the digest of the step's latest plan ("" before it is planned)."""
        plan = self.plans.get(step)
        return plan_digest(plan.changes, plan.diffs) if plan else ""

    def _lapse(self, approval: ApprovalDecided, done: set[str]) -> list[str]:
        approved = self.plan_of_digest.get(approval.plan_digest)
        latest = self.plans.get(approval.step or "")
        if not approval.plan_digest or approved is None or latest is None:
            return []  # logged before approvals named their plan: it holds as it always did
        return plan_changes(approved, latest, done)

    def holding(self, step: str, done: set[str]) -> list[ApprovalDecided]:
        """Return the step's approvals that still hold for the plan the run would now carry out."""
        return [d for d in self.decisions.get(step, []) if d.decision is Decision.APPROVED and not self._lapse(d, done)]

    def needed(self, step: str) -> int:
        """Return how many approvals the step's gate needs (1 for a gate opened before gates said so)."""
        request = self.requests.get(step)
        return request.approvals_needed if request else 1

    def approved(self, step: str, done: set[str]) -> bool:
        """Return whether enough approvals that still hold were given at the step's gate."""
        return len(self.holding(step, done)) >= self.needed(step)

    def rejected(self, step: str) -> bool:
        """Return whether someone allowed to answered no at the step's gate."""
        return any(d.decision is Decision.REJECTED for d in self.decisions.get(step, []))

    def lapsed(self, step: str, done: set[str]) -> str:
        """Return why the step's earlier approvals no longer hold ("" when none lapsed)."""
        reasons = []
        for d in self.decisions.get(step, []):
            changes = self._lapse(d, done) if d.decision is Decision.APPROVED else []
            if changes:
                more = f" and {len(changes) - _LISTED} more hosts" if len(changes) > _LISTED else ""
                reasons.append(
                    f"the approval by {d.approver} (plan {d.plan_digest[:15]}…) no longer holds: the plan changed: "
                    + "; ".join(changes[:_LISTED])
                    + more
                )
        return "; ".join(reasons)
