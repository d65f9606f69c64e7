"""A compliance project's standard applied to its hosts: which waivers hold where, and what remediation gets.

waived, expired = waivers_by_host(project.compliance.waivers, inventory, date.today())
remediation_vars(standard, waived)  # {'itpm_compliance_controls': [...], 'itpm_compliance_waived': {...}}
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from itpm.errors import InventoryError
from itpm.inventory import Inventory
from itpm.models.project import Waiver
from itpm.models.standard import Standard

__all__ = ["HostWaivers", "remediation_vars", "waivers_by_host"]

HostWaivers = dict[str, dict[str, Waiver]]  # host -> control id -> the waiver


def waivers_by_host(waivers: Sequence[Waiver], inventory: Inventory, today: date) -> tuple[HostWaivers, HostWaivers]:
    """Return the waivers that hold on ``today`` and those that expired, each per host and control.

    A waiver naming a host the inventory no longer has is ignored (the host is gone, so is the exception).
    """
    active: HostWaivers = {}
    expired: HostWaivers = {}
    for waiver in waivers:
        hosts: set[str] = set()
        for pattern in waiver.hosts:
            try:
                hosts.update(inventory.select(pattern))
            except InventoryError:
                continue
        into = active if waiver.active(today) else expired
        for host in hosts:
            into.setdefault(host, {})[waiver.control] = waiver
    return active, expired


def remediation_vars(standard: Standard, active: HostWaivers) -> dict[str, Any]:
    """Return the extra vars of the remediation playbook: every control's role, and the controls waived per host.

    An expired waiver is not passed: its control is remediated like any other.
    """
    return {
        "itpm_compliance_controls": standard.remediation_vars(),
        "itpm_compliance_waived": {host: sorted(controls) for host, controls in sorted(active.items())},
    }
