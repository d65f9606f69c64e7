"""Why a host did not pass, as a value: a kind, the host, the task or check, and the message.

Made once where an outside tool's result is translated (Ansible's per-host result, testinfra's per-check result),
carried in the engine's outcomes and in the project log's events, and put into words only where it is shown.
Rules ask the kind, never the words: a risk signal ``check_failed`` is ``failure.kind is FailureKind.CHECK_FAILED``.

>>> f = HostFailure(kind=FailureKind.CHECK_FAILED, host="h2", check="test_banner", message="no banner")
>>> f.summary, f.is_check
('test_banner: no banner', True)
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from itpm.models.results import CheckOutcome, CheckResult, HostRunResult, HostStatus

__all__ = ["FailureKind", "HostFailure", "legacy_check_failure"]


class FailureKind(StrEnum):
    """What went wrong on a host."""

    UNREACHABLE = "unreachable"  # SSH could not reach the host, or lost it mid-task
    HOST_KEY_REFUSED = "host key refused"  # the host's key is unknown or differs from known_hosts
    TIMED_OUT = "timed out"  # a task or the connection ran past its bound
    TASK_FAILED = "task failed"  # an Ansible task failed on the host
    CHECK_FAILED = "check failed"  # a check's assertion did not hold
    CHECK_BROKEN = "check broken"  # the check itself failed to run (a bug, a missing inventory var)
    NOT_VERIFIED = "not verified"  # no check ran on the host

    @property
    def from_checks(self) -> bool:
        """True for the kinds a verification gives (the host was changed, then its proof failed)."""
        return self in (FailureKind.CHECK_FAILED, FailureKind.CHECK_BROKEN, FailureKind.NOT_VERIFIED)


class HostFailure(BaseModel):
    """One host's failure: in applying a playbook (``task``) or in a check (``check``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FailureKind
    host: str
    task: str = ""  # the Ansible task that failed (empty when the host was unreachable before any task)
    check: str = ""  # the check function that did not pass: ``test_banner_shown_before_login``
    message: str = ""

    @property
    def is_check(self) -> bool:
        """True when the failure came from the checks, not from applying the playbook."""
        return self.kind.from_checks

    @property
    def last_line(self) -> str:
        """Return the message's last line (Ansible's messages end with the command's error output)."""
        lines = self.message.strip().splitlines()
        return lines[-1] if lines else ""

    @property
    def summary(self) -> str:
        """Return one line a person reads: ``test_banner: no banner``, ``unreachable at Install agent: ...``."""
        if self.is_check:
            return f"{self.check}: {self.message}" if self.check else self.kind.value
        where = f" at {self.task}" if self.task else ""
        return f"{self.kind.value}{where}: {self.last_line}" if self.last_line else f"{self.kind.value}{where}"

    @classmethod
    def of_playbook(cls, result: HostRunResult) -> HostFailure | None:
        """Return the failure in one host's playbook result (None when the host came out ok or changed)."""
        if result.status not in (HostStatus.FAILED, HostStatus.UNREACHABLE):
            return None
        failure = result.failure
        task, message = (failure.task, failure.message) if failure else ("", "")
        if failure is not None and failure.host_key_mismatch:
            kind = FailureKind.HOST_KEY_REFUSED
        elif failure is not None and failure.timed_out:
            kind = FailureKind.TIMED_OUT
        elif result.status is HostStatus.UNREACHABLE:
            kind = FailureKind.UNREACHABLE
        else:
            kind = FailureKind.TASK_FAILED
        return cls(kind=kind, host=result.host, task=task, message=message)

    @classmethod
    def of_check(cls, result: CheckResult) -> HostFailure | None:
        """Return the failure of one check on one host (None when it passed or was skipped)."""
        kinds = {
            CheckOutcome.FAILED: FailureKind.CHECK_FAILED,
            CheckOutcome.ERROR: FailureKind.CHECK_BROKEN,
            CheckOutcome.UNREACHABLE: FailureKind.UNREACHABLE,
        }
        kind = kinds.get(result.outcome)
        if kind is None:
            return None
        if kind is FailureKind.UNREACHABLE and "host key" in result.message.lower():
            kind = FailureKind.HOST_KEY_REFUSED
        return cls(kind=kind, host=result.host, check=result.name, message=result.message)

    @classmethod
    def not_verified(cls, host: str) -> HostFailure:
        """Return the failure of a host on which no check ran (a step must prove its change)."""
        return cls(kind=FailureKind.NOT_VERIFIED, host=host, message="no check ran on the host")


def legacy_check_failure(host: str, line: str) -> HostFailure:
    """Return a check failure the project log stored, before failures were typed, as a ``check: message`` line.

    Only for reading events written by older versions; nothing new is written this way.
    """
    check, _, message = line.partition(": ")
    return HostFailure(kind=FailureKind.CHECK_FAILED, host=host, check=check, message=message)
