"""Results are values: what a playbook run or a verification did, per host.

A run never raises because a host failed; it returns a ``PlaybookResult`` whose ``failed`` map names the hosts,
the task and the message. Callers (the CLI, later the rollout) decide what a failure means.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict

__all__ = [
    "CheckOutcome",
    "CheckResult",
    "HostChecks",
    "HostRunResult",
    "HostStatus",
    "PlannedChange",
    "PlaybookResult",
    "TaskFailure",
    "VerificationResult",
]

# How OpenSSH, Ansible (with or without mitogen) and paramiko word a refused host key.
_HOST_KEY_SIGNS = (
    "Host key verification failed",
    "REMOTE HOST IDENTIFICATION HAS CHANGED",
    "mismatching host key",
    "host key does not match",
    "not found in known_hosts",
)


class HostStatus(StrEnum):
    """How a host came out of a run, worst first when a host has several outcomes."""

    UNREACHABLE = "unreachable"
    FAILED = "failed"
    CHANGED = "changed"
    OK = "ok"
    SKIPPED = "skipped"


class TaskFailure(BaseModel):
    """The task that failed on a host and what Ansible said about it."""

    model_config = ConfigDict(frozen=True)

    task: str
    message: str
    timed_out: bool = False  # a time bound ran out: the task's (ITPM_TASK_TIMEOUT) or the connection's

    @property
    def host_key_mismatch(self) -> bool:
        """True when SSH refused the host because its key is unknown or differs from known_hosts."""
        return any(sign in self.message for sign in _HOST_KEY_SIGNS)


class PlannedChange(BaseModel):
    """A task that changed (or, in check mode, would change) a host, with its diff when it has one."""

    model_config = ConfigDict(frozen=True)

    task: str
    diff: str = ""


class HostRunResult(BaseModel):
    """One host's outcome of one playbook run."""

    model_config = ConfigDict(frozen=True)

    host: str
    status: HostStatus
    ok_tasks: int = 0
    changed_tasks: int = 0
    skipped_tasks: int = 0
    failure: TaskFailure | None = None
    changes: tuple[PlannedChange, ...] = ()
    duration_s: float = 0.0


class PlaybookResult(BaseModel):
    """A playbook run on a set of hosts.

    ``ok`` and ``failed`` split ``hosts`` (fabric's GroupResult idea): every host is in exactly one of them.

    >>> r = PlaybookResult(run_id="r1", playbook=Path("p.yml"), check_mode=False, strategy="linear",
    ...     runner_status="failed", rc=2, duration_s=1.0,
    ...     hosts={"h1": HostRunResult(host="h1", status=HostStatus.CHANGED),
    ...            "h2": HostRunResult(host="h2", status=HostStatus.UNREACHABLE)})
    >>> sorted(r.ok), sorted(r.failed), r.succeeded
    (['h1'], ['h2'], False)
    """

    model_config = ConfigDict(frozen=True)

    run_id: str
    playbook: Path
    check_mode: bool
    strategy: str
    strategy_note: str = ""  # why the fast strategy was not used, when it was wanted
    runner_status: str  # ansible-runner's: successful, failed, timeout, canceled
    rc: int
    duration_s: float
    hosts: dict[str, HostRunResult]
    stdout_tail: tuple[str, ...] = ()

    @property
    def ok(self) -> dict[str, HostRunResult]:
        """Hosts that ran every task without error (changed, unchanged or skipped)."""
        return {h: r for h, r in self.hosts.items() if r.status not in (HostStatus.FAILED, HostStatus.UNREACHABLE)}

    @property
    def failed(self) -> dict[str, HostRunResult]:
        """Hosts where a task failed or that could not be reached."""
        return {h: r for h, r in self.hosts.items() if r.status in (HostStatus.FAILED, HostStatus.UNREACHABLE)}

    @property
    def unreachable(self) -> dict[str, HostRunResult]:
        """Hosts Ansible could not connect to (includes host-key refusals)."""
        return {h: r for h, r in self.hosts.items() if r.status is HostStatus.UNREACHABLE}

    @property
    def changed(self) -> dict[str, HostRunResult]:
        """Hosts that changed (or in check mode would change)."""
        return {h: r for h, r in self.hosts.items() if r.changed_tasks > 0}

    @property
    def plan(self) -> dict[str, tuple[PlannedChange, ...]]:
        """Per host, the changes made (or planned, in check mode); hosts without changes map to ``()``."""
        return {h: r.changes for h, r in self.hosts.items()}

    @property
    def succeeded(self) -> bool:
        """True when Ansible finished and no host failed or was unreachable."""
        return self.runner_status == "successful" and not self.failed


class CheckOutcome(StrEnum):
    """How one check came out on one host."""

    PASSED = "passed"
    FAILED = "failed"  # the host was reached and the assertion did not hold
    ERROR = "error"  # the check itself broke (a bug in the check, a missing inventory var)
    UNREACHABLE = "unreachable"  # the host could not be reached, or its host key was refused
    SKIPPED = "skipped"


class CheckResult(BaseModel):
    """One check function on one host; ``message`` is the assertion message when it did not pass."""

    model_config = ConfigDict(frozen=True)

    check: str  # "baseline/test_banner.py::test_banner_shown_before_login"
    host: str
    outcome: CheckOutcome
    message: str = ""
    duration_s: float = 0.0

    @property
    def name(self) -> str:
        """Return the check function's name: ``test_banner_shown_before_login``."""
        return self.check.split("::")[-1]

    @property
    def summary(self) -> str:
        """Return ``name: message``, the line the project log and reports keep of a check that did not pass."""
        return f"{self.name}: {self.message}"


class HostChecks(BaseModel):
    """Every check's result on one host."""

    model_config = ConfigDict(frozen=True)

    host: str
    checks: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        """True when every check passed or was skipped."""
        return all(c.outcome in (CheckOutcome.PASSED, CheckOutcome.SKIPPED) for c in self.checks)

    @property
    def unreachable(self) -> bool:
        """True when the host could not be reached for any of its checks."""
        return any(c.outcome is CheckOutcome.UNREACHABLE for c in self.checks)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        """The checks that did not pass."""
        return tuple(c for c in self.checks if c.outcome not in (CheckOutcome.PASSED, CheckOutcome.SKIPPED))


class VerificationResult(BaseModel):
    """Checks run on a set of hosts.

    >>> v = VerificationResult(checks=(Path("checks/baseline"),), duration_s=0.1, hosts={
    ...     "h1": HostChecks(host="h1", checks=(CheckResult(check="c", host="h1", outcome=CheckOutcome.PASSED),))})
    >>> list(v.ok), v.succeeded
    (['h1'], True)
    """

    model_config = ConfigDict(frozen=True)

    checks: tuple[Path, ...]
    duration_s: float
    hosts: dict[str, HostChecks]

    @property
    def ok(self) -> dict[str, HostChecks]:
        """Hosts where every check passed."""
        return {h: c for h, c in self.hosts.items() if c.ok}

    @property
    def failed(self) -> dict[str, HostChecks]:
        """Hosts with at least one check that did not pass (including unreachable hosts)."""
        return {h: c for h, c in self.hosts.items() if not c.ok}

    @property
    def succeeded(self) -> bool:
        """True when every check passed on every host."""
        return not self.failed
