"""Moving the hosts a run passed into the project's target group, in the inventory file itself.

The hardware project onboards spares: a host that passed every step moves from ``spare`` to ``production``.
The run's scope is pinned at its first start (``itpm.engine.scope``), so a resumed run still sees the hosts it
moved, and moving them again changes nothing.

>>> moved, inventory = move_passed_hosts(project, state, inventory, {"run_id": "r1", "project": "dc"})  # doctest: +SKIP
>>> moved.hosts  # doctest: +SKIP
['h4', 'h5']
"""

from __future__ import annotations

from collections.abc import Mapping

from itpm.engine.scope import passed_every_step
from itpm.inventory import Inventory, load_inventory
from itpm.inventory_groups import move_hosts
from itpm.log.events import HostsMoved
from itpm.models.project import Project
from itpm.run_state import RunState

__all__ = ["move_passed_hosts"]


def move_passed_hosts(
    project: Project, state: RunState, inventory: Inventory, common: Mapping[str, str]
) -> tuple[HostsMoved | None, Inventory]:
    """Move the hosts every step verified; return the move to log (None: nothing moved) and the inventory now."""
    move = project.move_to_group
    hosts = passed_every_step(state, inventory, project) if move else []
    if move is None or not hosts:
        return None, inventory
    moved = move_hosts(inventory.path, hosts, from_group=move.from_group, to_group=move.to_group)
    entry = HostsMoved(
        **common, hosts=moved, from_group=move.from_group, to_group=move.to_group, inventory=str(inventory.path)
    )
    return entry, load_inventory(inventory.path)
