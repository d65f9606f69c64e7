"""What a project changes, in its project file: the hosts in scope, each step, and where hosts go when done.

>>> Step(name="patch", playbook="playbooks/patch.yml", checks=["checks/patch"]).strategy.canary  # doctest: +SKIP
1
"""

from __future__ import annotations

from pydantic import Field

from itpm.models.repo_path import GeneratedPath, RepoPath
from itpm.models.slug import Slug
from itpm.models.strategy import RolloutStrategy
from itpm.models.strict import StrictModel
from itpm.models.variables import Variables

__all__ = ["GroupMove", "Scope", "Step"]


class Scope(StrictModel):
    """Which hosts the project may touch: an inventory and an Ansible host pattern over it."""

    inventory: GeneratedPath  # checked when a run loads it: it may not exist before `itpm lab up`
    hosts: str = "all"


class Step(StrictModel):
    """One change: a playbook, the checks that prove it, how to undo it, and how to roll it out."""

    name: Slug
    description: str = ""
    playbook: RepoPath
    checks: tuple[RepoPath, ...] = Field(min_length=1)
    rollback: RepoPath | None = None
    hosts: str | None = None  # narrows the project scope for this step (an Ansible pattern)
    vars: Variables = {}  # over the project's vars, for this step only
    strategy: RolloutStrategy = RolloutStrategy()


class GroupMove(StrictModel):
    """Where hosts go in the inventory once every step passed on them: a new server leaves ``spare`` for ``web``."""

    from_group: str
    to_group: str
