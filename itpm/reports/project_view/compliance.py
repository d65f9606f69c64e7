"""What a run's changes did to compliance: each check of a step, the hosts failing it before and after.

Each step's latest audit before the change is compared with its latest audit after it, check by check.

>>> check_comparisons(events)[0]  # doctest: +SKIP
CheckComparison(step='harden', check='test_banner', hosts=5, failing_before=('h1', 'h2'), failing_after=())
"""

from __future__ import annotations

from collections.abc import Sequence

from itpm.log.events import Event, StepAudited
from itpm.reports.project_view.model import CheckComparison

__all__ = ["check_comparisons"]


def check_comparisons(events: Sequence[Event]) -> tuple[CheckComparison, ...]:
    """Compare each step's latest audit before the change with its latest audit after it, check by check."""
    audits: dict[tuple[str, str], StepAudited] = {}
    for entry in events:
        if isinstance(entry, StepAudited):
            audits[(entry.step or "", entry.stage)] = entry
    comparisons = []
    for step in dict.fromkeys(step for step, _ in audits):
        before, after = audits.get((step, "before")), audits.get((step, "after"))
        checks = list(dict.fromkeys([*_checks_of(before), *_checks_of(after)]))
        latest = after or before
        hosts = len(latest.passed) + len(latest.failed) if latest else 0
        comparisons += [
            CheckComparison(
                step=step,
                check=check,
                hosts=hosts,
                failing_before=_failing(before, check) if before else (),
                failing_after=_failing(after, check) if after else None,
            )
            for check in checks
        ]
    return tuple(comparisons)


def _checks_of(audit: StepAudited | None) -> list[str]:
    if audit is None:
        return []
    failed = [failure.check for failures in audit.failed.values() for failure in failures]
    return list(dict.fromkeys([*audit.checks, *failed]))


def _failing(audit: StepAudited, check: str) -> tuple[str, ...]:
    return tuple(sorted(host for host, failures in audit.failed.items() if any(f.check == check for f in failures)))
