"""Fencing: cutting a failed host off out of band, so that it cannot come back and serve beside its replacement.

Fencing changes the world without the host's help (it may be dead or half alive), so it belongs to the
execution layer like every other change. The lab's fence is its switch port; a data centre's would be a PDU or
the BMC, added here as another ``FenceMethod``.
"""

from __future__ import annotations

from itpm.errors import ExecutionError
from itpm.inventory import Inventory
from itpm.lab import faults
from itpm.models.runbook import FenceMethod

__all__ = ["fence_host"]


def fence_host(inventory: Inventory, host: str, method: FenceMethod) -> str:
    """Fence ``host`` with ``method``; return what was done: ``'h3: lab switch port iv-lab-3 shut'``.

    Raises ExecutionError when the method cannot reach this host (not a lab host, the port is gone).
    """
    if method is FenceMethod.LAB_SWITCH_PORT:
        lab = inventory.host(host).vars.get("itpm_lab")
        if not lab:
            raise ExecutionError(
                f"{host} is not a lab host (no itpm_lab in its inventory vars): lab_switch_port cannot fence it",
                fix="fence it by hand (power off at the PDU or BMC), then run the runbook again",
            )
        try:
            faults.fence_port(str(lab), host)
        except Exception as error:  # a LabError or an ip failure: on-call must fence by hand
            raise ExecutionError(
                f"could not shut the lab switch port of {host}: {error}",
                fix=f"take {host} off the network by hand (itpm lab down or power off), then run the runbook again",
            ) from error
        return f"{host}: lab switch port shut"
    raise ExecutionError(f"unknown fence method {method}", fix="use lab_switch_port")  # pragma: no cover
