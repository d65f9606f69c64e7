"""Faults injected into one lab host, and the matching repairs. Everything stays inside that host's namespaces.

A process is found through the host's network namespace (``ip netns pids``) and matched by name there:
``ip netns exec NS pkill sshd`` would not do, because it changes only the network namespace and ``pkill``
would see, and kill, every host's sshd.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from itpm.errors import LabError
from itpm.lab import network

__all__ = [
    "fence_port",
    "host_init_pid",
    "kill_host",
    "kill_sshd",
    "link_down",
    "link_up",
    "start_sshd",
    "unfence_port",
]


def _processes(lab: str, host: str) -> dict[int, str]:
    """Return ``{pid: command name}`` of every process of one host."""
    found = {}
    for pid in network.namespace_pids(network.namespace_name(lab, host)):
        try:
            found[pid] = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
    return found


def host_init_pid(lab: str, host: str) -> int:
    """Return the controller-side pid of the host's init (tini); LabError if the host is not running."""
    for pid, name in _processes(lab, host).items():
        if name == "tini":
            return pid
    raise LabError(f"lab host {host} of lab '{lab}' is not running", fix=f"itpm lab up --name {lab}")


def kill_sshd(lab: str, host: str) -> int:
    """SIGKILL the host's sshd processes (the host stays up, SSH is refused); return how many."""
    killed = 0
    for pid, name in _processes(lab, host).items():
        if name == "sshd":
            os.kill(pid, signal.SIGKILL)
            killed += 1
    return killed


def start_sshd(lab: str, host: str) -> None:
    """Start sshd inside the host again (in all its namespaces, so it is the host's own sshd)."""
    pid = host_init_pid(lab, host)
    subprocess.run(
        ["nsenter", "--target", str(pid), "--all", "/bin/sh", "-c", "mkdir -p /run/sshd && /usr/sbin/sshd"],
        check=True,
        capture_output=True,
    )


def kill_host(lab: str, host: str) -> None:
    """SIGKILL the host's init: every process of the host dies with it, as in a power loss."""
    os.kill(host_init_pid(lab, host), signal.SIGKILL)


def link_down(lab: str, host: str) -> None:
    """Take the host's network link down: connections time out instead of being refused."""
    network.run_ip(["-n", network.namespace_name(lab, host), "link", "set", "eth0", "down"])


def link_up(lab: str, host: str) -> None:
    """Bring the host's network link back up."""
    network.run_ip(["-n", network.namespace_name(lab, host), "link", "set", "eth0", "up"])


def _port(lab: str, host: str) -> str:
    """Return the controller-side veth of a lab host (hosts are named ``h<index>``)."""
    if not (host.startswith("h") and host[1:].isdigit()):
        raise LabError(f"{host} is not a lab host name (h1, h2, ...)", fix="fence lab hosts by their inventory name")
    return network.veth_name(lab, int(host[1:]))


def fence_port(lab: str, host: str) -> None:
    """Fence a host like a switch port shut: its bridge port goes down, whatever state the host itself is in."""
    network.run_ip(["link", "set", _port(lab, host), "down"])


def unfence_port(lab: str, host: str) -> None:
    """Open a fenced host's bridge port again (after it was repaired, or for a lab that is reused)."""
    network.run_ip(["link", "set", _port(lab, host), "up"])
