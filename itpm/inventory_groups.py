"""Change which group a host is in, in a YAML inventory file: the one change itpm makes to the controller's files.

An onboarded server leaves ``spare`` and joins its target group, so that later projects (which select by group)
find it. The inventory is read with itpm's read-only view (``itpm.inventory``); this module only rewrites the
YAML, atomically, keeping every host's own vars and the comment lines at the top of the file.

    move_hosts(Path("inventory/lab/hosts.yml"), ["h5"], from_group="spare", to_group="web")
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import takewhile
from pathlib import Path
from typing import Any

import yaml

from itpm.atomic_file import write_atomic
from itpm.errors import InventoryError
from itpm.yaml_file import read_yaml

__all__ = ["group_memberships", "move_hosts"]


def _children(document: dict[str, Any]) -> Any:  # noqa: ANN401 - YAML is any shape
    """Return the ``all.children`` mapping of an inventory document (made if missing)."""
    top = document.setdefault("all", {}) or {}
    document["all"] = top
    children = top.setdefault("children", {}) or {}
    top["children"] = children
    return children


def group_memberships(path: Path) -> dict[str, str]:
    """Return the direct group of each host listed under ``all.children`` of ``path``: ``{'h5': 'spare'}``.

    An absent or unreadable file has none (a lab's first ``up``).
    """
    if not path.is_file():
        return {}
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError:
        return {}
    children = (document.get("all") or {}).get("children") or {}
    return {
        host: group
        for group, entry in children.items()
        if isinstance(entry, dict)
        for host in (entry.get("hosts") or {})
    }


def move_hosts(path: Path, hosts: Sequence[str], *, from_group: str, to_group: str) -> list[str]:
    """Move ``hosts`` from group ``from_group`` to ``to_group`` in the YAML inventory ``path``; return those moved.

    Hosts already in ``to_group`` count as moved (a resumed run repeats the move). Raises InventoryError for a
    file that is not a YAML inventory, or a host in neither group.
    """
    document = read_yaml(path, InventoryError, "inventory")
    if not isinstance(document, dict):
        raise InventoryError(f"{path} is not a YAML inventory", fix="give the inventory's hosts.yml file")
    children = _children(document)
    source = (children.get(from_group) or {}).get("hosts") or {}
    target_entry = children.setdefault(to_group, {}) or {}
    children[to_group] = target_entry
    target = target_entry.setdefault("hosts", {}) or {}
    target_entry["hosts"] = target
    moved = []
    for host in hosts:
        if host in source:
            target[host] = source.pop(host)
        elif host not in target:
            raise InventoryError(
                f"{path}: host {host} is neither in group {from_group} nor in {to_group}",
                fix=f"check the inventory: the host should be in {from_group} until it is onboarded",
            )
        moved.append(host)
    if from_group in children:
        if source:
            children[from_group]["hosts"] = source
        else:
            del children[from_group]  # an empty group is `hosts: {}`, which Ansible warns about
    header = "".join(
        line + "\n" for line in takewhile(lambda line: line.startswith("#"), path.read_text().splitlines())
    )
    write_atomic(path, header + yaml.safe_dump(document, sort_keys=False, width=200))
    return moved
