"""A recovery runbook as written in ``runbooks/*.yaml``: the hosts it involves, its targets, and its steps (data).

On-call runs it with one command (``itpm recover db-primary``); each step is a read-only check, an out-of-band
fence, or a playbook, and says what on-call does when it fails. ``--drill`` runs only the steps marked
``in_drill``, so a rehearsal restores on the standby without touching the primary or moving clients.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from itpm.models.repo_path import GeneratedPath, RepoPath
from itpm.models.slug import Slug
from itpm.models.strict import StrictModel
from itpm.models.variables import VariableName, Variables

__all__ = ["FenceMethod", "Runbook", "RunbookAction", "RunbookHosts", "RunbookStep", "RunbookTargets"]


class RunbookAction(StrEnum):
    """What a runbook step does."""

    CHECK = "check"  # run checks (read only); the step fails when a check fails
    FENCE = "fence"  # cut the host off out of band, so that it cannot come back and serve
    PLAYBOOK = "playbook"  # apply a playbook, then its checks


class FenceMethod(StrEnum):
    """How a host is fenced without its cooperation (it may be dead or half alive)."""

    LAB_SWITCH_PORT = "lab_switch_port"  # the lab's bridge port of the host goes down (like a switch port)


class RunbookHosts(StrictModel):
    """The hosts a recovery involves (host names or, for clients, an Ansible pattern)."""

    primary: str
    standby: str
    backup: str
    clients: str


class RunbookTargets(StrictModel):
    """Recovery time and recovery point objectives."""

    rto_seconds: float = Field(gt=0)
    rpo_seconds: float = Field(gt=0)


class RunbookStep(StrictModel):
    """One step: on which of the runbook's hosts, what it does, and what on-call does if it fails."""

    name: Slug
    title: str
    action: RunbookAction
    # Not "on": YAML 1.1 reads an unquoted `on:` key as the boolean true.
    target: str = Field(pattern=r"^(primary|standby|backup|clients)$")
    playbook: RepoPath | None = None
    checks: tuple[RepoPath, ...] = ()
    fence: FenceMethod | None = None
    in_drill: bool = False
    on_failure: str = Field(min_length=1, description="what on-call does next when this step fails")

    @model_validator(mode="after")
    def _complete(self) -> RunbookStep:
        if self.action is RunbookAction.PLAYBOOK and self.playbook is None:
            raise ValueError(f"step {self.name!r} applies a playbook: give playbook")
        if self.action is RunbookAction.CHECK and not self.checks:
            raise ValueError(f"step {self.name!r} runs checks: give checks")
        if self.action is RunbookAction.FENCE and self.fence is None:
            raise ValueError(f"step {self.name!r} fences a host: give fence (lab_switch_port)")
        return self


class Runbook(StrictModel):
    """A runbook file."""

    name: Slug
    title: str
    service: str
    inventory: GeneratedPath
    hosts: RunbookHosts
    targets: RunbookTargets
    # Which extra var carries which host's name or address: the playbooks are the service's, the roles the runbook's.
    host_vars: dict[VariableName, str] = {}  # var name -> role, e.g. {ledger_standby: standby}
    address_vars: dict[VariableName, str] = {}  # var name -> role, e.g. {ledger_active_address: standby}
    restored_manifest: str = Field(description="file on the standby naming the restored backup and its taken_at")
    vars: Variables = {}
    steps: tuple[RunbookStep, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _roles_known(self) -> Runbook:
        roles = set(RunbookHosts.model_fields)
        for name, role in {**self.host_vars, **self.address_vars}.items():
            if role not in roles:
                raise ValueError(f"var {name!r} names role {role!r}: use one of {', '.join(sorted(roles))}")
        if not any(s.in_drill for s in self.steps):
            raise ValueError("no step runs in a drill: mark the restore steps in_drill: true")
        return self
