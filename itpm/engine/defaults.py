"""The engine's real ports: ansible-runner changes hosts, testinfra reads them, the project log records.

Each holds what its tool needs (the run's inventory, parsed once, and settings), so the engine passes only
hosts, playbooks, checks and vars.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from itpm.execution.runner import EventCallback, end_processes_of, plan_playbook, run_playbook
from itpm.inventory import Inventory
from itpm.log.events import Event
from itpm.log.store import ProjectLog
from itpm.models.results import PlaybookResult, VerificationResult
from itpm.settings import Settings
from itpm.verification.runner import verify

__all__ = ["AnsibleExecutor", "LogJournal", "SilentNotifier", "TestinfraVerifier"]


@dataclass
class AnsibleExecutor:
    """Playbooks through ansible-runner, Ansible's processes marked with the run id (``owner``)."""

    inventory: Inventory
    settings: Settings
    owner: str

    def apply(
        self,
        playbook: Path,
        hosts: Sequence[str],
        extravars: Mapping[str, Any],
        *,
        on_event: EventCallback | None = None,
    ) -> PlaybookResult:
        """Run ``playbook`` on ``hosts`` (see ``itpm.execution.runner.run_playbook``)."""
        return run_playbook(
            playbook,
            self.inventory,
            self.settings,
            limit=",".join(hosts),
            extravars=extravars,
            on_event=on_event,
            owner=self.owner,
        )

    def plan(self, playbook: Path, hosts: Sequence[str], extravars: Mapping[str, Any]) -> PlaybookResult:
        """Run ``playbook`` in check mode with diffs on ``hosts``."""
        return plan_playbook(
            playbook, self.inventory, self.settings, limit=",".join(hosts), extravars=extravars, owner=self.owner
        )

    def end_leftovers(self) -> int:
        """End the Ansible processes an earlier attempt of this run left on this machine."""
        return end_processes_of(self.owner)


@dataclass
class TestinfraVerifier:
    """Checks through pytest-testinfra, on the run's parsed inventory."""

    __test__ = False  # a service, not a pytest test class

    inventory: Inventory
    settings: Settings

    def verify(self, checks: Sequence[Path], hosts: Sequence[str], extravars: Mapping[str, Any]) -> VerificationResult:
        """Run ``checks`` on ``hosts`` (see ``itpm.verification.runner.verify``)."""
        return verify(list(checks), self.inventory, self.settings, limit=",".join(hosts), extra_vars=extravars)


@dataclass
class LogJournal:
    """The project log (SQLite or PostgreSQL) as the engine's journal."""

    log: ProjectLog

    def append(self, entry: Event) -> None:
        """Commit ``entry`` to the log."""
        self.log.append(entry)

    def events(self, run_id: str) -> list[Event]:
        """Return the run's events, oldest first."""
        return self.log.events(run_id)

    def project_events(self, project: str, kinds: Sequence[str]) -> list[Event]:
        """Return the project's events of ``kinds``, every run's."""
        return self.log.events(project=project, kinds=list(kinds))


class SilentNotifier:
    """Tells nobody: a project without stakeholders, a dry run, or a caller that wires no notices."""

    def observe(self, entry: Event) -> None:
        """Ignore ``entry``."""

    def close(self, timeout_s: float) -> None:
        """Nothing to deliver."""
