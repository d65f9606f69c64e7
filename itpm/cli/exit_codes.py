"""What ``itpm`` exits with, decided here and nowhere else.

- 0: everything ran and every host is fine;
- 1: a host failed a task or a check (a failed rollout), or something itpm relies on could not run;
- 2: bad input (a missing file, a malformed inventory, a pattern matching no host) or hosts that could not be
  reached or whose host key was refused: nothing the tool can fix, something the user must;
- 130, 143: stopped by SIGINT (Ctrl-C) or SIGTERM: 128 plus the signal's number, what a shell reports for a
  process the signal ended, so that a supervisor tells a stop apart from a failure.

Each error of the itpm tree says which of 1 and 2 it is (``ItpmError.exit_code``, drawn in itpm/errors.py): the
error knows whether the user can fix it. Turning an error, an interrupt or a result into the process's exit code
happens here only.
"""

from __future__ import annotations

import signal

import typer

from itpm.errors import ItpmError
from itpm.evidence.verify import EvidenceReport
from itpm.models.results import PlaybookResult, VerificationResult

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "EXIT_OK",
    "error_exit_code",
    "evidence_exit_code",
    "playbook_exit_code",
    "verification_exit_code",
]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
_SIGNALLED = 128  # a shell's exit status for a process a signal ended: 128 + the signal's number


def error_exit_code(error: ItpmError | KeyboardInterrupt | typer.Abort | typer.TyperException) -> int:
    """Return the exit code ``error`` ends the command with.

    ``error_exit_code(InventoryError("..."))`` is 2, ``error_exit_code(ExecutionError("..."))`` 1; a
    ``KeyboardInterrupt`` is 130, or 143 when its ``signal_name`` (``itpm.interrupts.Interrupted``) is
    ``'SIGTERM'``; typer's usage errors (an unknown option, a missing argument) are 2, an aborted prompt 1.
    """
    if isinstance(error, KeyboardInterrupt):
        name = getattr(error, "signal_name", "SIGINT")
        number = signal.Signals[name] if name in signal.Signals.__members__ else signal.SIGINT
        return _SIGNALLED + number
    if isinstance(error, ItpmError):
        return error.exit_code
    if isinstance(error, typer.Abort):
        return EXIT_FAILED
    return EXIT_BAD_INPUT


def playbook_exit_code(result: PlaybookResult, verification: VerificationResult | None) -> int:
    """Return the exit code of applying (or planning) a playbook, then maybe verifying: 0, 1 or 2.

    A host that failed a task or a check, or a run that timed out or was canceled, fails it (1). Otherwise
    hosts that could not be reached are bad input (2): their address, key or state is for the user to fix.
    """
    task_failures = len(result.failed) - len(result.unreachable)
    check_failures = 0 if verification is None else sum(1 for c in verification.failed.values() if not c.unreachable)
    if task_failures or check_failures or result.runner_status in ("timeout", "canceled"):
        return EXIT_FAILED
    return EXIT_BAD_INPUT if result.unreachable else EXIT_OK


def verification_exit_code(result: VerificationResult) -> int:
    """Return the exit code of running checks: 0 all passed, 2 every failure an unreachable host, else 1."""
    if result.succeeded:
        return EXIT_OK
    return EXIT_BAD_INPUT if all(c.unreachable for c in result.failed.values()) else EXIT_FAILED


def evidence_exit_code(report: EvidenceReport) -> int:
    """Return the exit code of checking an evidence archive: 0 it verified, 1 it did not (a failed check).

    An archive that is missing or not a ``.tar.gz`` never gets here: ``NotEvidence`` is bad input, 2.
    """
    return EXIT_OK if report.ok else EXIT_FAILED
