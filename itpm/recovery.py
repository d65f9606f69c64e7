"""A recovery runbook run: its steps in order, each logged with what on-call does if it fails; RTO and RPO measured.

Plain Python; flows/recover.py orders the calls for Prefect, tests call them directly::

    recovery = Recovery.open(Path("runbooks/db-primary.yaml"), settings, requester="oncall", drill=False)
    recovery.start()
    for step in recovery.steps():
        if not recovery.run_step(step).done: break      # the outcome says what to do next
    recovery.measure(); recovery.finish()

RTO runs from the trigger (when the alert fired, or when the runbook started) to the service verified from the
clients (in a drill: verified on the standby). RPO is the age of the restored backup at the trigger.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from itpm.errors import ExecutionError, InventoryError, ItpmError, RunbookFileError
from itpm.execution.fence import fence_host
from itpm.execution.runner import new_run_id, run_playbook
from itpm.inventory import Inventory, load_inventory
from itpm.log.events import RecoveryMeasured, RecoveryStep, RunFinished, RunStarted, now
from itpm.log.store import ProjectLog
from itpm.models.runbook import Runbook, RunbookAction, RunbookStep
from itpm.project_file import load_model_file
from itpm.settings import Settings
from itpm.verification.host_file import read_host_file
from itpm.verification.runner import verify

__all__ = ["Recovery", "RecoveryFailed", "StepOutcome", "load_runbook", "runbook_path"]


def load_runbook(path: Path) -> Runbook:
    """Read and validate a runbook file; raise RunbookFileError naming file, field path and fix."""
    return load_model_file(path, Runbook, RunbookFileError, "runbook file", "runbooks/db-primary.yaml")


def runbook_path(reference: str, root: Path) -> Path:
    """Return the runbook file ``reference`` names: a path, or a name under ``root/runbooks``."""
    given = Path(reference)
    if given.suffix in (".yaml", ".yml") or given.exists():
        return given
    return root / "runbooks" / f"{reference}.yaml"


@dataclass(frozen=True)
class StepOutcome:
    """One step as on-call sees it."""

    step: RunbookStep
    done: bool
    detail: str
    duration_s: float

    @property
    def next_action(self) -> str:
        """Return what on-call does now (empty when the step was done)."""
        return "" if self.done else self.step.on_failure


class RecoveryFailed(ItpmError):
    """A runbook step failed; carries its outcome, and the fix is the runbook's own instruction for on-call."""

    def __init__(self, run_id: str, outcome: StepOutcome) -> None:
        super().__init__(
            f"recovery {run_id} stopped at step {outcome.step.name} ({outcome.step.title}): {outcome.detail}",
            fix=outcome.next_action,
        )
        self.outcome = outcome


@dataclass
class Recovery:
    """One run of a runbook."""

    runbook_file: Path
    runbook: Runbook
    run_id: str
    requester: str
    settings: Settings
    log: ProjectLog
    inventory: Inventory
    drill: bool = False
    triggered_at: datetime = field(default_factory=now)
    extra_vars: dict[str, Any] = field(default_factory=dict)
    _verified_at: datetime | None = field(default=None, repr=False)

    @classmethod
    def open(
        cls,
        runbook_file: Path,
        settings: Settings,
        *,
        requester: str,
        drill: bool = False,
        triggered_at: datetime | None = None,
        extra_vars: dict[str, Any] | None = None,
        run_id: str | None = None,
    ) -> Recovery:
        """Load the runbook and its inventory; check that every host it names is there."""
        runbook = load_runbook(runbook_file)
        inventory = load_inventory(runbook.inventory)
        for role in ("primary", "standby", "backup"):
            name = getattr(runbook.hosts, role)
            if name not in inventory.hosts:
                raise InventoryError(
                    f"runbook {runbook.name}: the {role} {name} is not in {runbook.inventory}",
                    fix=f"correct hosts.{role} in {runbook_file}",
                )
        inventory.select(runbook.hosts.clients)  # a pattern that selects nothing is an InventoryError
        return cls(
            runbook_file=runbook_file.resolve(),
            runbook=runbook,
            run_id=run_id or new_run_id(("drill-" if drill else "recover-") + runbook.name),
            requester=requester,
            settings=settings,
            log=ProjectLog.for_settings(settings),
            inventory=inventory,
            drill=drill,
            triggered_at=triggered_at or now(),
            extra_vars=dict(extra_vars or {}),
        )

    def hosts_of(self, role: str) -> tuple[str, ...]:
        """Return the hosts of a role: ``('h3',)`` for primary, the clients pattern's hosts for clients."""
        if role == "clients":
            return self.inventory.select(self.runbook.hosts.clients)
        return (getattr(self.runbook.hosts, role),)

    def variables(self) -> dict[str, Any]:
        """Return the extra vars of every playbook and check: the runbook's vars, its hosts' names and addresses."""
        names = {var: self.hosts_of(role)[0] for var, role in self.runbook.host_vars.items()}
        addresses = {
            var: self.inventory.host(self.hosts_of(role)[0]).address for var, role in self.runbook.address_vars.items()
        }
        return {**self.runbook.vars, **names, **addresses, **self.extra_vars, "itpm_run_id": self.run_id}

    def steps(self) -> tuple[RunbookStep, ...]:
        """Return the steps this run takes: all of them, or in a drill only those marked ``in_drill``."""
        return tuple(s for s in self.runbook.steps if s.in_drill or not self.drill)

    def _common(self) -> dict[str, str]:
        return {"run_id": self.run_id, "project": self.runbook.name}

    def start(self) -> None:
        """Log the start of the recovery (the trigger time is kept for RTO)."""
        steps = self.steps()
        self.log.append(
            RunStarted(
                **self._common(),
                project_file=str(self.runbook_file),
                title=self.runbook.title + (" (drill)" if self.drill else ""),
                project_kind="disaster_recovery",
                environment="lab",
                requester=self.requester,
                hosts=sorted({h for s in steps for h in self.hosts_of(s.target)}),
                steps=[s.name for s in steps],
                step_hosts={s.name: list(self.hosts_of(s.target)) for s in steps},
            )
        )

    def run_step(self, step: RunbookStep) -> StepOutcome:
        """Do one step and log it; a failure is a value whose ``next_action`` tells on-call what to do."""
        started = time.monotonic()
        hosts = self.hosts_of(step.target)
        try:
            done, detail = self._do(step, hosts)
        except ExecutionError as error:  # the step could not even run: that is its failure, said plainly
            done, detail = False, error.message
        outcome = StepOutcome(step, done, detail, time.monotonic() - started)
        self.log.append(
            RecoveryStep(
                **self._common(),
                step=step.name,
                status="done" if done else "failed",
                title=step.title,
                detail=detail,
                duration_s=outcome.duration_s,
                next_action=outcome.next_action,
            )
        )
        if done:
            self._verified_at = now()  # the last step done is the service verified
        return outcome

    def _do(self, step: RunbookStep, hosts: tuple[str, ...]) -> tuple[bool, str]:
        limit = ",".join(hosts)
        if step.action is RunbookAction.FENCE:
            assert step.fence is not None
            return True, "; ".join(fence_host(self.inventory, h, step.fence) for h in hosts)
        if step.action is RunbookAction.PLAYBOOK:
            assert step.playbook is not None
            applied = run_playbook(
                step.playbook, self.inventory, self.settings, limit=limit, extravars=self.variables()
            )
            if applied.failed:
                return False, "; ".join(
                    f"{h}: {r.status.value}" + (f" at {r.failure.task}: {r.failure.message}" if r.failure else "")
                    for h, r in applied.failed.items()
                )
            if not step.checks:
                return True, f"applied on {limit} ({sum(r.changed_tasks for r in applied.hosts.values())} changes)"
        checked = verify(list(step.checks), self.inventory, self.settings, limit=limit, extra_vars=self.variables())
        if checked.failed:
            return False, "; ".join(
                f"{h}: " + "; ".join(c.summary for c in r.failures) for h, r in checked.failed.items()
            )
        return True, f"{', '.join(hosts)}: {sum(len(r.checks) for r in checked.hosts.values())} checks passed"

    def measure(self) -> RecoveryMeasured:
        """Read which backup the standby restored, log RTO and RPO against the targets, and return them."""
        standby = self.runbook.hosts.standby
        manifest = json.loads(read_host_file(self.inventory, standby, self.runbook.restored_manifest))
        taken_at = datetime.fromisoformat(str(manifest["taken_at"]).replace("Z", "+00:00"))
        verified_at = self._verified_at or now()
        measured = RecoveryMeasured(
            **self._common(),
            drill=self.drill,
            rto_s=(verified_at - self.triggered_at).total_seconds(),
            rpo_s=max(0.0, (self.triggered_at - taken_at).total_seconds()),
            rto_target_s=self.runbook.targets.rto_seconds,
            rpo_target_s=self.runbook.targets.rpo_seconds,
            restored_backup=str(manifest.get("file", "")),
        )
        self.log.append(measured)
        return measured

    def finish(self, done: bool) -> None:
        """Log the end of the recovery."""
        self.log.append(RunFinished(**self._common(), status="completed" if done else "failed"))
