"""What a step's playbooks and checks are given: the project's vars, the run's names, and today's waivers.

A compliance project's waivers are judged on the day the step runs: a waiver that lapsed overnight is
remediated and fails again like any other control.

>>> RunVars(project, inventory, standard=None, run_id="r1").extravars(step)  # doctest: +SKIP
{'ssh_port': 22, 'itpm_run_id': 'r1', 'itpm_project': 'baseline', 'itpm_step': 'harden'}
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from itpm.compliance import HostWaivers, remediation_vars, waivers_by_host
from itpm.inventory import Inventory
from itpm.log.events import now
from itpm.models.project import Project, Step
from itpm.models.standard import Standard
from itpm.rollout import Batch

__all__ = ["RunVars"]


@dataclass(frozen=True)
class RunVars:
    """The inputs of one run that its playbooks and checks see."""

    project: Project
    inventory: Inventory
    standard: Standard | None
    run_id: str

    def waivers(self, today: date | None = None) -> HostWaivers:
        """Return the project's waivers that hold ``today``, per host and control (none outside compliance)."""
        if self.project.compliance is None:
            return {}
        active, _ = waivers_by_host(self.project.compliance.waivers, self.inventory, today or now().date())
        return active

    def waived_checks(self) -> dict[str, set[str]]:
        """Return, per host, the checks of the controls a waiver exempts today: ``{'h2': {'test_ssh_port'}}``."""
        if self.standard is None:
            return {}
        return {
            host: {name for control in controls for name in self.standard.control(control).checks}
            for host, controls in self.waivers().items()
        }

    def extravars(self, step: Step, batch: Batch | None = None) -> dict[str, Any]:
        """Return the step's extra vars: the project's vars, then the run's (these win).

        The ``itpm_*`` names let a playbook tag or log its changes with the run, step and batch that made them.
        """
        run: dict[str, Any] = {"itpm_run_id": self.run_id, "itpm_project": self.project.name, "itpm_step": step.name}
        if batch is not None:
            run["itpm_batch"] = batch.label
        if self.standard is not None:
            run.update(remediation_vars(self.standard, self.waivers()))
        return {**self.project.variables(step), **run}
