"""One row per host of what happened to it: applied, verified, and what to look at. Plain words, no reprs."""

from __future__ import annotations

from itpm.models.results import HostStatus, PlaybookResult, VerificationResult

__all__ = ["host_rows"]


def host_rows(applied: PlaybookResult, verified: VerificationResult | None) -> list[dict[str, str]]:
    """Return table rows for a run, one per host.

    >>> host_rows(applied, verified)[0]  # doctest: +SKIP
    {'host': 'h1', 'applied': 'changed (14 tasks)', 'checks': '11 of 11 passed', 'attention': ''}
    """
    rows = []
    for host, result in applied.hosts.items():
        applied_text = result.status.value
        if result.status is HostStatus.CHANGED:
            applied_text = f"changed ({result.changed_tasks} tasks)"
        attention = ""
        if result.failure is not None:
            attention = f"{result.failure.task}: {result.failure.message.splitlines()[-1]}"
        checks_text = "not run"
        if verified is not None and host in verified.hosts:
            checks = verified.hosts[host]
            passed = len(checks.checks) - len(checks.failures)
            checks_text = f"{passed} of {len(checks.checks)} passed"
            if checks.failures and not attention:
                attention = checks.failures[0].summary
        rows.append({"host": host, "applied": applied_text, "checks": checks_text, "attention": attention})
    return rows
