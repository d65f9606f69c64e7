"""What a lab keeps on the controller: its record (``<state>/lab/<name>/fleet.json``) and the files made from it.

The record says which subnet, root, key and hosts a lab was made with, so that ``up`` keeps what runs and
``status`` knows what to look for. From it come the two files the controller's tools read: the Ansible
inventory and the known_hosts file with each host's key.

>>> load_record(settings.lab_dir / "lab").hosts["h1"].address  # doctest: +SKIP
'10.77.0.2'
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from itpm.atomic_file import write_atomic
from itpm.inventory_groups import group_memberships
from itpm.lab.inventory_file import LabInventoryHost, group_of, render_inventory, render_known_hosts

__all__ = ["LabHostRecord", "LabRecord", "load_record", "record_path", "save_record", "write_controller_files"]


class LabHostRecord(BaseModel):
    """A host as recorded when it was made."""

    model_config = ConfigDict(frozen=True)

    name: str
    index: int
    address: str
    host_key: str


class LabRecord(BaseModel):
    """The durable record of a lab: ``<state>/lab/<name>/fleet.json``."""

    name: str
    subnet_index: int
    rootfs: Path
    inventory: Path
    known_hosts: Path
    private_key: Path
    hosts: dict[str, LabHostRecord] = {}


def record_path(lab_dir: Path) -> Path:
    """Return where the lab in ``lab_dir`` keeps its record: ``<lab_dir>/fleet.json``."""
    return lab_dir / "fleet.json"


def load_record(lab_dir: Path) -> LabRecord | None:
    """Return the record of the lab in ``lab_dir``, or None if it has none (never made, or brought down)."""
    path = record_path(lab_dir)
    if not path.exists():
        return None
    return LabRecord.model_validate_json(path.read_text())


def save_record(lab_dir: Path, record: LabRecord) -> None:
    """Write the lab's record, atomically: a crash leaves the old record or the new one."""
    write_atomic(record_path(lab_dir), record.model_dump_json(indent=2))


def write_controller_files(record: LabRecord) -> None:
    """Write the lab's known_hosts file and inventory from its record."""
    hosts = [
        LabInventoryHost(name=h.name, index=h.index, address=h.address, host_key=h.host_key)
        for h in record.hosts.values()
    ]
    write_atomic(record.known_hosts, render_known_hosts(hosts))
    # A host a project moved to another group (onboarding) stays there when the lab is brought up again.
    moved = {
        host: group
        for host, group in group_memberships(record.inventory).items()
        if host in record.hosts and group != group_of(record.hosts[host].index)
    }
    write_atomic(
        record.inventory,
        render_inventory(
            lab=record.name,
            hosts=hosts,
            private_key=record.private_key,
            known_hosts=record.known_hosts,
            moved=moved,
        ),
    )
