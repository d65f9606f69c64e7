"""A halt in words for people: why the rollout stopped, and exactly what to do next.

Made once, here, from the typed failures; the log keeps the words (``RunHalted``) so that every report, notice
and terminal shows the same.

>>> halt_reason(canary, {"h1": failure}, step)  # doctest: +SKIP
"the canary of step 'baseline' failed: h1: test_banner: no banner"
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from itpm.log.events import Event, RolledBack
from itpm.models.failures import HostFailure
from itpm.models.project import Step
from itpm.rollout import Batch

__all__ = ["halt_reason", "next_steps", "stop_note"]


def _listed(failed: Mapping[str, HostFailure]) -> str:
    return "; ".join(f"{host}: {failure.summary}" for host, failure in failed.items())


def halt_reason(batch: Batch, failed: Mapping[str, HostFailure], step: Step) -> str:
    """Return why the batch halted the rollout."""
    if batch.canary:
        return f"the canary of step {step.name!r} failed: {_listed(failed)}"
    return (
        f"{len(failed)} of {len(batch.hosts)} hosts of {batch.label} failed, more than the "
        f"{step.strategy.max_fail_percent:g}% allowed: {_listed(failed)}"
    )


def next_steps(run_id: str, batch: Batch, failed: Mapping[str, HostFailure], rolled_back: RolledBack | None) -> str:
    """Return what a person does next: look at the failed hosts, check the rollback, fix, resume."""
    first = sorted(failed)[0]
    lines = [f"Look at {', '.join(sorted(failed))}: `itpm log {run_id} --host {first}`."]
    if rolled_back is None:
        lines.append("No rollback playbook: the failed hosts are left as the step left them.")
    elif rolled_back.failed:
        lines.append(f"Rollback FAILED on {', '.join(rolled_back.failed)}: restore those hosts by hand first.")
    else:
        lines.append(f"{batch.label} was rolled back on {', '.join(rolled_back.ok)}.")
    lines.append(f"Fix the cause, then `itpm resume {run_id}` continues from {batch.label}.")
    return " ".join(lines)


def stop_note(events: Sequence[Event], run_id: str, why: str) -> tuple[str | None, str | None, str]:
    """Return where a stopped run stood (step, batch: those of its last event) and the note that says so.

    ``('marker', 'marker/batch 2', 'stopped by SIGTERM during marker/batch 2 of step marker; itpm resume r1
    carries on')``
    """
    last = events[-1] if events else None
    step, batch = (last.step, last.batch) if last else (None, None)
    where = " of ".join(part for part in (batch, f"step {step}" if step else None) if part) or "its start"
    return step, batch, f"stopped by {why} during {where}; itpm resume {run_id} carries on"
