"""What an audit or a plan found, as the events the log keeps: values made from the ports' typed results.

>>> audited(common, step, "before", result, duration_s=2.5).failed  # doctest: +SKIP
{'h3': [HostFailure(kind=FailureKind.CHECK_FAILED, host='h3', check='test_banner', message='no banner')]}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from itpm.log.events import StepAudited, StepPlanned
from itpm.models.failures import HostFailure
from itpm.models.project import Step
from itpm.models.results import CheckResult, PlaybookResult, VerificationResult
from itpm.signing.statement import diff_digest

__all__ = ["audited", "planned"]


def audited(
    common: Mapping[str, str],
    step: Step,
    stage: Literal["before", "after"],
    result: VerificationResult,
    *,
    duration_s: float,
) -> StepAudited:
    """Return the log's record of an audit of ``step``: the checks run, the hosts that passed, each failure."""
    return StepAudited(
        **common,
        step=step.name,
        stage=stage,
        checks=sorted({c.name for r in result.hosts.values() for c in r.checks}),
        passed=sorted(result.ok),
        failed={h: _failures(r.failures) for h, r in result.failed.items()},
        duration_s=duration_s,
    )


def planned(common: Mapping[str, str], step: Step, result: PlaybookResult, *, duration_s: float) -> StepPlanned:
    """Return the log's record of a check-mode plan of ``step``: the tasks that would change each host."""
    return StepPlanned(
        **common,
        step=step.name,
        changes={h: [c.task for c in changes] for h, changes in result.plan.items()},
        diffs={h: [diff_digest(c.diff) for c in changes] for h, changes in result.plan.items()},
        unreachable=sorted(result.unreachable),
        duration_s=duration_s,
    )


def _failures(checks: tuple[CheckResult, ...]) -> list[HostFailure]:
    """Return the typed failures of a host's checks that did not pass."""
    return [f for f in map(HostFailure.of_check, checks) if f is not None]
