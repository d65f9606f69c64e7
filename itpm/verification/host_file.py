"""Reading one file on a host over the checks' own strict connection (reading only, like every check)."""

from __future__ import annotations

from testinfra.host import Host

from itpm.errors import ExecutionError
from itpm.inventory import Inventory
from itpm.verification.backend import HostConnectionFailed, InventoryBackend

__all__ = ["read_host_file"]


def read_host_file(inventory: Inventory, host: str, path: str) -> str:
    """Return the text of ``path`` on ``host``; ExecutionError when the host cannot be reached or has no such file."""
    target = Host(InventoryBackend(host, inventory=inventory))
    try:
        remote = target.file(path)
        if not remote.exists:
            raise ExecutionError(f"{host} has no file {path}", fix="check the step that should have written it")
        return str(remote.content_string)
    except HostConnectionFailed as error:
        raise ExecutionError(f"cannot read {path} on {host}: {error}", fix=f"check that {host} is up") from error
