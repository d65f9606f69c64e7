"""Every status a run, a batch, an approval or a host can have: one enum each, defined here once.

Each is a ``StrEnum`` whose values are the words stored in the project log, so an event read back from an older
log compares equal to the enum member (``RunEnd("completed") is RunEnd.COMPLETED``).

>>> RunEnd.COMPLETED == "completed", Decision("refused") is Decision.REFUSED
(True, True)
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Decision", "RunEnd", "Verdict"]


class RunEnd(StrEnum):
    """How a run ended (``RunFinished.status``)."""

    COMPLETED = "completed"  # every step's batches ran and the re-audit was taken
    HALTED = "halted"  # a batch failed past its tolerance; ``itpm resume`` carries on after a fix
    REJECTED = "rejected"  # an approver said no
    DRY_RUN = "dry_run"  # audit and plan only, nothing changed
    FAILED = "failed"  # a recovery whose steps did not all succeed
    INTERRUPTED = "interrupted"  # stopped by Ctrl-C or SIGTERM; ``itpm resume`` carries on


class Verdict(StrEnum):
    """What a finished batch means for the rollout."""

    PASSED = "passed"  # every host applied and verified
    TOLERATED = "tolerated"  # some hosts failed, within max_fail_percent: carry on and record them
    HALTED = "halted"  # past max_fail_percent (or any failure in the canary): roll back and stop


class Decision(StrEnum):
    """An answer at an approval gate."""

    APPROVED = "approved"
    REJECTED = "rejected"
    REFUSED = "refused"  # from someone who may not answer: logged, and the gate stays open
