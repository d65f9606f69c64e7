"""Which hosts a run and each of its steps work on: chosen from the inventory, then pinned at the first start.

Pinned, so that a resumed run works on the same hosts even after the inventory changed (the hardware project
moves onboarded hosts out of their ``spare`` group). A step builds on the steps before it (provisioning after
acceptance), so a host an earlier step did not pass on is left out of the later ones.

>>> step_hosts(inventory, project, project.step("burn-in"))  # doctest: +SKIP
('h4', 'h5')
"""

from __future__ import annotations

from itpm.inventory import Inventory
from itpm.models.project import Project, Step
from itpm.run_state import RunState

__all__ = ["excluded_hosts", "passed_every_step", "pinned_scope", "pinned_step_hosts", "step_hosts"]


def step_hosts(inventory: Inventory, project: Project, step: Step) -> tuple[str, ...]:
    """Return the hosts ``step`` changes: the project's scope, narrowed by the step's own pattern if it has one."""
    scope = inventory.select(project.scope.hosts)
    if step.hosts is None:
        return scope
    narrowed = set(inventory.select(step.hosts))
    return tuple(h for h in scope if h in narrowed)


def pinned_scope(state: RunState, inventory: Inventory, project: Project) -> tuple[str, ...]:
    """Return the hosts the project may touch, as the run's first start found them (the inventory before it)."""
    first = state.first_start
    return tuple(first.hosts) if first else inventory.select(project.scope.hosts)


def pinned_step_hosts(state: RunState, inventory: Inventory, project: Project, step: Step) -> tuple[str, ...]:
    """Return the hosts ``step`` changes, as the run's first start pinned them."""
    first = state.first_start
    if first is not None:
        return tuple(first.step_hosts.get(step.name, first.hosts))
    return step_hosts(inventory, project, step)


def excluded_hosts(state: RunState, inventory: Inventory, project: Project, step: Step) -> dict[str, str]:
    """Return the step's hosts that an earlier step of this run did not pass on: ``{'h5': 'burn-in'}``."""
    excluded: dict[str, str] = {}
    for earlier in project.steps[: project.steps.index(step)]:
        done = state.done(earlier.name)
        for host in pinned_step_hosts(state, inventory, project, earlier):
            if host not in done and host not in excluded:
                excluded[host] = earlier.name
    mine = set(pinned_step_hosts(state, inventory, project, step))
    return {h: s for h, s in excluded.items() if h in mine}


def passed_every_step(state: RunState, inventory: Inventory, project: Project) -> list[str]:
    """Return the scope's hosts that every step they belong to applied and verified, in scope order."""
    scope = pinned_scope(state, inventory, project)
    passed = set(scope)
    for step in project.steps:
        passed &= state.done(step.name) | (set(scope) - set(pinned_step_hosts(state, inventory, project, step)))
    return [h for h in scope if h in passed]
