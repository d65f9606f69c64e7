"""The small interfaces the engine talks to, one per outside tool (molecule's driver bases, in Protocol form).

The real implementations (``itpm.engine.defaults``) drive ansible-runner, testinfra and the project log; unit
tests hand the engine fakes that return recorded results, so the engine's rules run in milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from itpm.execution.runner import EventCallback
from itpm.log.events import Event
from itpm.models.results import PlaybookResult, VerificationResult

__all__ = ["Executor", "Journal", "Notifier", "Verifier"]


class Executor(Protocol):
    """Changes hosts: runs a playbook on the hosts of ``limit`` (the only port that changes anything)."""

    def apply(
        self,
        playbook: Path,
        hosts: Sequence[str],
        extravars: Mapping[str, Any],
        *,
        on_event: EventCallback | None = None,
    ) -> PlaybookResult:
        """Run ``playbook`` on ``hosts``; every host's result, a failed or unreachable one included."""
        ...

    def plan(self, playbook: Path, hosts: Sequence[str], extravars: Mapping[str, Any]) -> PlaybookResult:
        """Run ``playbook`` in check mode with diffs on ``hosts`` (changes nothing)."""
        ...

    def end_leftovers(self) -> int:
        """End what an earlier, killed attempt of this run left working on this machine; return how many."""
        ...


class Verifier(Protocol):
    """Reads hosts: runs checks on ``hosts`` and returns each host's per-check results."""

    def verify(self, checks: Sequence[Path], hosts: Sequence[str], extravars: Mapping[str, Any]) -> VerificationResult:
        """Run ``checks`` on ``hosts``."""
        ...


class Journal(Protocol):
    """The durable record: events appended, never changed."""

    def append(self, entry: Event) -> None:
        """Commit ``entry`` (raises when it cannot be written: the run must not go on unrecorded)."""
        ...

    def events(self, run_id: str) -> list[Event]:
        """Return the run's events, oldest first."""
        ...

    def project_events(self, project: str, kinds: Sequence[str]) -> list[Event]:
        """Return every run's events of ``kinds`` for ``project`` (a budget belongs to the project)."""
        ...


class Notifier(Protocol):
    """Tells people about what was appended; never raises, never blocks the rollout for long."""

    def observe(self, entry: Event) -> None:
        """Take note of an appended event (delivery happens beside the run)."""
        ...

    def close(self, timeout_s: float) -> None:
        """Deliver what is still queued, waiting at most ``timeout_s``; record what could not be."""
        ...
