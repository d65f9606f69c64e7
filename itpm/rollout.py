"""The plan of a step's rollout and the rules that judge each batch: pure functions, no I/O.

Batches are cut from the step's hosts in inventory order: the canary first, then batches of ``batch_size``.
The plan depends only on the hosts and the strategy, so a resumed run cuts the same batches and skips the
hosts the project log says are already applied and verified.

A batch fails when more than ``max_fail_percent`` of its hosts fail (exactly at the limit it passes, as with
Ansible's ``max_fail_percentage``); the canary tolerates no failure at all: it exists to stop a bad change
before it spreads.

>>> from itpm.models.strategy import RolloutStrategy
>>> [b.hosts for b in plan_batches("s", ["h1", "h2", "h3", "h4", "h5"], RolloutStrategy(canary=1, batch_size=2))]
[('h1',), ('h2', 'h3'), ('h4', 'h5')]
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from itpm.models.statuses import Verdict
from itpm.models.strategy import RolloutStrategy, count_of

__all__ = ["Batch", "Verdict", "judge_batch", "plan_batches", "still_to_do"]


@dataclass(frozen=True)
class Batch:
    """A set of hosts changed together: ``Batch('baseline', 0, 'canary', ('h1',), canary=True)``."""

    step: str
    index: int
    name: str
    hosts: tuple[str, ...]
    canary: bool = False

    @property
    def label(self) -> str:
        """Return ``'<step>/<batch name>'``, the batch's name in logs, task runs and reports."""
        return f"{self.step}/{self.name}"


def plan_batches(step: str, hosts: Sequence[str], strategy: RolloutStrategy) -> tuple[Batch, ...]:
    """Return the step's batches: the canary (if any) first, then batches of ``batch_size`` hosts."""
    batches: list[Batch] = []
    remaining = list(hosts)
    if strategy.canary is not None and remaining:
        size = count_of(strategy.canary, len(hosts))
        batches.append(Batch(step, 0, "canary", tuple(remaining[:size]), canary=True))
        remaining = remaining[size:]
    size = count_of(strategy.batch_size, len(hosts)) if hosts else 1
    first = len(batches)  # batches are numbered from 1 after the canary, from 1 without one
    while remaining:
        index = len(batches)
        batches.append(Batch(step, index, f"batch {index - first + 1}", tuple(remaining[:size])))
        remaining = remaining[size:]
    return tuple(batches)


def judge_batch(batch: Batch, failed: Collection[str], strategy: RolloutStrategy) -> Verdict:
    """Return the verdict on a batch given the hosts that failed to apply or verify in it."""
    failures = len(set(failed) & set(batch.hosts))
    if failures == 0:
        return Verdict.PASSED
    if batch.canary:
        return Verdict.HALTED
    # Integer arithmetic: at exactly the limit the batch passes (2 of 10 at 20% is tolerated, 3 is not).
    if failures * 100 > strategy.max_fail_percent * len(batch.hosts):
        return Verdict.HALTED
    return Verdict.TOLERATED


def still_to_do(batch: Batch, done: Collection[str]) -> tuple[str, ...]:
    """Return the batch's hosts not yet applied and verified (what a resumed run still has to do)."""
    finished = set(done)
    return tuple(h for h in batch.hosts if h not in finished)
