"""The one exception tree of itpm.

Every error says what failed, where, and how to fix it. Only the CLI (itpm/cli/exit_codes.py) turns them into
exit codes::

    ItpmError                        (exit 1 unless a subclass says otherwise)
    ├── InputError                   (exit 2: the user can fix it by changing an argument or a file)
    │   ├── ProjectFileError         a project file that is not valid YAML or breaks the project schema
    │   ├── StandardFileError        the same for a compliance standard (standards/*.yaml)
    │   ├── RunbookFileError         the same for a recovery runbook (runbooks/*.yaml)
    │   ├── InventoryError           malformed inventory, a pattern that matches no host, unknown host
    │   ├── PlaybookError            missing or unreadable playbook
    │   ├── ChecksError              missing check module or directory
    │   ├── BookkeepingError         a cost, risk or note that does not fit the project file (bookkeeping.py)
    │   ├── EmergencyRefused         an emergency change without a reason, in a dry run, or with no gate to skip
    │   │                            (engine/emergency.py)
    │   ├── ReviewRefused            a post-implementation review that cannot be recorded, or was refused
    │   │                            (engine/review.py)
    │   └── NotEvidence              a file given as an evidence archive is missing or no .tar.gz (evidence/)
    ├── LabError                     (exit 2) the lab fleet cannot be built, brought up or down here
    ├── ExecutionError               (exit 1) Ansible or testinfra could not run at all (not: a host failed)
    ├── RunNotFound                  (exit 2) no such run in the project log (run_record.py)
    ├── ApprovalRefused              (exit 2) someone who may not approve a step tried to (project_run.py)
    ├── HostsLocked                  hosts held by other runs past the wait (log/locks.py)
    ├── LogSchemaError               (exit 2) the log's database is not one itpm can migrate (log/migrations)
    ├── PrefectAccessRefused         (exit 2) the Prefect API refused this machine's PREFECT_API_AUTH_STRING, or
    │                                its lack (prefect_server.py)
    ├── ProjectLogError              the log's database is locked by another writer past the busy timeout, or its
    │                                disk is full (log/errors.py)
    ├── EvidenceRefused              a run's chain does not verify: no evidence archive of it (evidence/build.py)
    ├── DeliveryFailed               a notice could not be sent; returned as a value, never raised to a run
    └── RolloutHalted, RunRejected   a run stopped by its rules or an approver (flows/project.py)

Outside the tree, a ``KeyboardInterrupt``: ``itpm.interrupts.Interrupted``, a run stopped by SIGINT or SIGTERM
(exit 130 or 143; ``itpm resume`` carries it on).

A host that fails a task, is unreachable or fails a check is not an exception at the service level: it is a
value in the per-host result (``PlaybookResult``, ``VerificationResult``). The CLI decides what it means for
the exit code.
"""

from __future__ import annotations

__all__ = [
    "ChecksError",
    "ExecutionError",
    "InputError",
    "InventoryError",
    "ItpmError",
    "LabError",
    "PlaybookError",
    "ProjectFileError",
    "RunbookFileError",
    "StandardFileError",
]


class ItpmError(Exception):
    """Base of every error itpm raises on purpose.

    ``str(error)`` is the message a person reads: what failed and where; ``fix`` says what to do about it.
    """

    exit_code = 1

    def __init__(self, message: str, *, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.fix}" if self.fix else self.message


class InputError(ItpmError):
    """A file or argument given to itpm is wrong; the message names it."""

    exit_code = 2


class ProjectFileError(InputError):
    """A project file cannot be read or does not match the project schema; the message names every field."""


class StandardFileError(InputError):
    """A compliance standard file cannot be read or does not match the standard schema."""


class RunbookFileError(InputError):
    """A recovery runbook file cannot be read or does not match the runbook schema."""


class InventoryError(InputError):
    """The inventory cannot be read, or a host pattern selects nothing."""


class PlaybookError(InputError):
    """The playbook does not exist or is not a file."""


class ChecksError(InputError):
    """A check module or directory given for verification does not exist."""


class LabError(ItpmError):
    """The lab fleet could not be built, started or stopped on this machine."""

    exit_code = 2


class ExecutionError(ItpmError):
    """Ansible or pytest could not run at all (as opposed to a host failing inside a run)."""
