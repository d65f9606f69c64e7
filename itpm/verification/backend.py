"""testinfra's connection to a host named in an Ansible inventory: hostspec ``itpm://h3``.

Why not testinfra's own backends (measured, ../shared/LAB-NOTES.md):

- its paramiko backend never loads known_hosts (a wrong host key only warns and the checks pass), and its
  socket suffers Nagle + delayed ACK on every small command: TCP_NODELAY made checks 5-7x faster;
- its ansible backend runs ``ansible-inventory`` and then OpenSSH per command, 2x slower than the above.

This backend reads address, user, key and known_hosts from the same inventory Ansible uses, refuses unknown
or changed host keys (``RejectPolicy``), sets TCP_NODELAY, and gives checks their host's inventory variables
through ``host.ansible.get_variables()``. A host that cannot be reached fails fast on every later check
instead of waiting for another timeout.

A slow or cut-off host cannot hold the checks up for long: all of one host's checks share one time budget
(``Settings.check_timeout``), every wait for an answer is bounded by what is left of it, and a connection whose
host stops acknowledging for ``ssh_keepalive_interval`` x ``ssh_keepalive_count`` seconds is dropped by the
kernel (TCP_USER_TIMEOUT, with paramiko's keepalives giving it traffic to time). Either way the host's checks
end as unreachable, with its name and what happened.
"""

from __future__ import annotations

import copy
import functools
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paramiko
from testinfra.backend.base import CommandResult
from testinfra.backend.paramiko import ParamikoBackend

from itpm.inventory import Inventory, InventoryHost, load_inventory
from itpm.settings import Settings
from itpm.verification.handed_inventory import received_inventory

__all__ = ["HostConnectionFailed", "HostKeyRefused", "InventoryBackend", "inventory_at"]


class HostConnectionFailed(Exception):
    """The checks could not reach the host; the message says why and what to do."""


class HostKeyRefused(HostConnectionFailed):
    """The host's SSH key is not the one known_hosts holds for it (or known_hosts has none)."""


@functools.lru_cache(maxsize=8)
def inventory_at(path: str) -> Inventory:
    """Return the inventory at ``path`` for this checks' process, read once per process.

    A verification hands its pytest processes the inventory the run parsed (verification/handed_inventory.py);
    a hand-run pytest parses it here. Not for the run's own process, which holds its ``Inventory``: pass that to
    ``InventoryBackend(..., inventory=...)`` (this cache would not see the engine rewrite the file).
    """
    handed = received_inventory(path)
    return handed if handed is not None else load_inventory(Path(path))


class InventoryBackend(ParamikoBackend):  # type: ignore[misc] # testinfra is untyped
    """A paramiko connection configured from inventory variables, with strict host-key checking."""

    NAME = "itpm"
    HAS_RUN_ANSIBLE = True  # enables host.ansible.get_variables(); host.ansible(...) modules are refused

    def __init__(
        self,
        hostspec: str,
        *args: Any,
        ansible_inventory: str | None = None,
        inventory: Inventory | None = None,
        **kwargs: Any,
    ) -> None:
        if inventory is None and not ansible_inventory:
            raise HostConnectionFailed(
                f"{hostspec}: the itpm:// connection needs --ansible-inventory=<the inventory Ansible uses>"
            )
        # A caller that holds the parsed inventory passes it (host_file.py); pytest passes its option.
        view = inventory if inventory is not None else inventory_at(str(ansible_inventory))
        self.inventory_host: InventoryHost = view.host(hostspec)
        self._connection_failure: HostConnectionFailed | None = None
        # The run's bounds reach this pytest process through ITPM_* variables (verification/runner.py sets them).
        self._bounds = Settings()
        self._deadline: float | None = None  # when this host's check budget runs out; set on the first command
        kwargs.pop("connection", None)
        super().__init__(hostspec, *args, **kwargs)

    @classmethod
    def get_hosts(cls, host: str, **kwargs: Any) -> list[str]:
        """Expand an Ansible host pattern (``itpm://web:!h3``) into inventory host names."""
        inventory = kwargs.get("ansible_inventory")
        if not inventory:
            return [host]
        return list(inventory_at(inventory).select(host))

    def get_pytest_id(self) -> str:
        """Name test ids after the inventory host: ``test_banner[h3]``."""
        return str(self.inventory_host.name)

    def get_variables(self) -> dict[str, Any]:
        """Return the host's inventory variables, plus ``inventory_hostname`` and ``group_names``."""
        host = self.inventory_host
        # A copy all the way down: the inventory is shared by every host of this process, and a check that changed
        # a nested value would change it for the hosts checked after it.
        return {**copy.deepcopy(host.vars), "inventory_hostname": host.name, "group_names": list(host.groups)}

    def run_ansible(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Refuse Ansible modules in checks: checks only read hosts, and the execution layer changes them."""
        raise HostConnectionFailed(
            "host.ansible(...) is not available to checks: read the host with testinfra modules "
            "(host.file, host.run, ...) and expected values with host.ansible.get_variables()"
        )

    @property
    def _where(self) -> str:
        """Return the host as messages name it: ``'h3 (10.77.0.4:22)'``."""
        host = self.inventory_host
        return f"{host.name} ({host.address}:{host.port})"

    def run(self, command: str, *args: str, **kwargs: Any) -> CommandResult:
        """Run a command on the host within its check budget; return testinfra's result.

        Raises HostConnectionFailed (and every later call raises the same one) when the host cannot be reached,
        the connection drops, or the budget is spent.
        """
        if self._connection_failure is not None:
            raise self._connection_failure
        try:
            result: CommandResult = super().run(command, *args, **kwargs)
        except HostConnectionFailed:
            raise
        except TimeoutError:
            self._connection_failure = HostConnectionFailed(
                f"{self._where}: its checks ran out of their {self._bounds.check_timeout} s waiting for the host "
                "(check_timeout, ITPM_CHECK_TIMEOUT): slow or lossy link, or a command that hangs?"
            )
            raise self._connection_failure from None
        except (OSError, EOFError, paramiko.SSHException) as error:
            self._connection_failure = HostConnectionFailed(
                f"{self._where}: connection lost during its checks (sshd stopped, host down, link cut or too "
                f"lossy?): {error or type(error).__name__}"
            )
            raise self._connection_failure from None
        return result

    def _exec_command(self, command: bytes) -> tuple[int, bytes, bytes]:
        """Return exit code, stdout and stderr of ``command``, as testinfra's does, with every wait bounded.

        Raises TimeoutError when the host's check budget runs out, EOFError when the connection dropped.
        """
        if self._deadline is None:
            self._deadline = time.monotonic() + self._bounds.check_timeout
        transport = self.client.get_transport()
        if transport is None or not transport.is_active():
            raise EOFError("the SSH connection is closed")
        channel = transport.open_session(timeout=self._time_left())
        channel.exec_command(command)
        stdout = self._read_all(channel, channel.recv)
        stderr = self._read_all(channel, channel.recv_stderr)
        if not channel.status_event.wait(self._time_left()):
            raise TimeoutError
        exit_code = channel.recv_exit_status()
        if exit_code == -1 and not transport.is_active():  # a dropped connection closes its channels: no status
            raise EOFError("the SSH connection dropped while a check ran")
        return exit_code, stdout, stderr

    def _read_all(self, channel: paramiko.Channel, receive: Callable[[int], bytes]) -> bytes:
        """Return everything ``receive`` (the channel's recv or recv_stderr) yields until end of file."""
        chunks: list[bytes] = []
        while True:
            channel.settimeout(self._time_left())
            chunk = receive(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    def _time_left(self) -> float:
        """Return the seconds left of this host's check budget; raise TimeoutError when none are."""
        left = (self._deadline or 0.0) - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left

    @functools.cached_property
    def client(self) -> paramiko.SSHClient:
        """Return a connected SSH client; raise HostConnectionFailed (the same one on every later call)."""
        if self._connection_failure is not None:
            raise self._connection_failure
        try:
            return self._connect()
        except HostConnectionFailed as failure:
            self._connection_failure = failure
            raise

    def _connect(self) -> paramiko.SSHClient:
        host = self.inventory_host
        where = f"{host.name} ({host.address}:{host.port})"
        known_hosts = host.known_hosts or Path("~/.ssh/known_hosts").expanduser()
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.load_host_keys(str(known_hosts))
        except OSError as error:
            raise HostKeyRefused(f"{where}: cannot read known_hosts {known_hosts}: {error}") from None
        try:
            sock = socket.create_connection((host.address, host.port), timeout=self.timeout)
        except OSError as error:
            raise HostConnectionFailed(f"{where} unreachable: {error}") from None
        # Checks send many tiny commands; without this each waits on Nagle + delayed ACK (5-7x slower).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # A host that acknowledges nothing for the keepalive bound has its connection dropped, as OpenSSH's
        # ServerAlive* does for Ansible; paramiko's keepalives (set below) make sure there is traffic to time.
        alive_bound_ms = 1000 * self._bounds.ssh_keepalive_interval * self._bounds.ssh_keepalive_count
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, alive_bound_ms)
        try:
            client.connect(
                hostname=host.address,
                port=host.port,
                username=host.user or "root",
                key_filename=str(host.private_key) if host.private_key else None,
                sock=sock,
                timeout=self.timeout,
                banner_timeout=self.timeout,
                auth_timeout=self.timeout,
                allow_agent=False,
                look_for_keys=host.private_key is None,
            )
        except paramiko.BadHostKeyException as error:
            sock.close()
            raise HostKeyRefused(
                f"{where}: host key does not match {known_hosts} (got {error.key.get_name()} "
                f"{error.key.get_base64()[:16]}...). If the host was rebuilt on purpose, accept its new key: "
                f"ssh-keygen -R {host.address} -f {known_hosts}, then add the new key "
                "(for lab hosts: itpm lab up rewrites known_hosts)"
            ) from None
        except paramiko.SSHException as error:
            sock.close()
            if "not found in known_hosts" in str(error):
                raise HostKeyRefused(
                    f"{where}: host key not found in {known_hosts}; add it after checking its fingerprint "
                    f"(ssh-keyscan {host.address} >> {known_hosts})"
                ) from None
            raise HostConnectionFailed(f"{where}: SSH failed: {error}") from None
        except OSError as error:
            sock.close()
            raise HostConnectionFailed(f"{where} unreachable: {error}") from None
        transport = client.get_transport()
        if transport is not None:
            transport.set_keepalive(self._bounds.ssh_keepalive_interval)
        return client
