"""Faults injected into one lab host, and the matching repairs. Everything stays inside that host's namespaces.

A process is found through the host's network namespace (``ip netns pids``) and matched by name there:
``ip netns exec NS pkill sshd`` would not do, because it changes only the network namespace and ``pkill``
would see, and kill, every host's sshd.

Link faults (``packet_loss``, ``slow_link``, ``link_down``) change only the host's own network namespace:
iptables rules in a chain of their own and a tbf qdisc on its ``eth0``. ``clear_link_faults`` undoes them all.
``tc netem`` is missing from this kernel (../shared/LAB-NOTES.md), hence iptables ``statistic`` for loss; and
with no tc classifiers either, only the host's sending side can be shaped.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from itpm.errors import LabError
from itpm.lab import network

__all__ = [
    "clear_link_faults",
    "fence_port",
    "host_init_pid",
    "kill_host",
    "kill_sshd",
    "link_down",
    "link_up",
    "packet_loss",
    "slow_link",
    "sshd_running",
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


def sshd_running(lab: str, host: str) -> bool:
    """Return whether any sshd process runs in the host (a repair starts one only where none is left)."""
    return "sshd" in _processes(lab, host).values()


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


# The chain that holds a host's packet-loss rules, so that clearing them never touches any other rule of the host.
_LOSS_CHAIN = "ITPM-LOSS"
# Where the loss chain hooks in: only traffic over the host's link, never its loopback.
_LOSS_HOOKS = (("INPUT", "-i"), ("OUTPUT", "-o"))


def _in_namespace(
    lab: str, host: str, command: Sequence[str], *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` inside the host's network namespace only; return what it did (LabError if it failed)."""
    namespace = network.namespace_name(lab, host)
    if namespace not in network.list_namespaces(lab):
        raise LabError(f"lab host {host} of lab '{lab}' is not running", fix=f"itpm lab up --name {lab}")
    done = subprocess.run(["ip", "netns", "exec", namespace, *command], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise LabError(
            f"{' '.join(command)} in {namespace} failed (exit {done.returncode}): {done.stderr.strip()}",
            fix="run as root with iptables and iproute2 (tc) installed; clear_link_faults undoes a half-made fault",
        )
    return done


def packet_loss(lab: str, host: str, percent: float) -> None:
    """Drop ``percent`` % of the packets the host's link sends and receives, each at random, until cleared.

    A loss fault already there is replaced. Raises LabError for a percentage outside (0, 100].
    """
    probability = percent / 100
    if not 0 < probability <= 1:
        raise LabError(f"packet loss of {percent}% on {host}", fix="give a percentage above 0 and at most 100")
    _clear_packet_loss(lab, host)
    _in_namespace(lab, host, ["iptables", "-w", "-N", _LOSS_CHAIN])
    drop = ["-m", "statistic", "--mode", "random", "--probability", f"{probability:.4f}", "-j", "DROP"]
    _in_namespace(lab, host, ["iptables", "-w", "-A", _LOSS_CHAIN, *drop])
    for hook, direction in _LOSS_HOOKS:
        _in_namespace(lab, host, ["iptables", "-w", "-I", hook, "1", direction, "eth0", "-j", _LOSS_CHAIN])


def _clear_packet_loss(lab: str, host: str) -> None:
    """Remove the host's loss chain and the rules that jump to it, if there are any."""
    for hook, direction in _LOSS_HOOKS:
        jump = [hook, direction, "eth0", "-j", _LOSS_CHAIN]
        # -C succeeds while one is left; a loop, in case a fault was injected twice by hand.
        while _in_namespace(lab, host, ["iptables", "-w", "-C", *jump], check=False).returncode == 0:
            _in_namespace(lab, host, ["iptables", "-w", "-D", *jump])
    if _in_namespace(lab, host, ["iptables", "-w", "-L", _LOSS_CHAIN, "-n"], check=False).returncode == 0:
        _in_namespace(lab, host, ["iptables", "-w", "-F", _LOSS_CHAIN])
        _in_namespace(lab, host, ["iptables", "-w", "-X", _LOSS_CHAIN])


def slow_link(lab: str, host: str, rate: str = "64kbit", *, burst: str = "4kb", latency: str = "10s") -> None:
    """Limit what the host sends to ``rate`` (tc tbf on its eth0), until cleared; a slow link already there is replaced.

    Only the host's sending side is shaped: this kernel has no tc classifiers to police what it receives. Its
    answers, and the acknowledgements of what it is sent, crawl. ``latency`` is how long a packet may queue before
    tbf drops it: long, so that the link is slow rather than lossy.
    """
    _in_namespace(
        lab,
        host,
        ["tc", "qdisc", "replace", "dev", "eth0", "root", "tbf", "rate", rate, "burst", burst, "latency", latency],
    )


def clear_link_faults(lab: str, host: str) -> None:
    """Undo every link fault of the host: packet loss, a slow link, a link taken down. Harmless when there is none."""
    _clear_packet_loss(lab, host)
    shaped = _in_namespace(lab, host, ["tc", "qdisc", "show", "dev", "eth0", "root"]).stdout
    if "tbf" in shaped:
        _in_namespace(lab, host, ["tc", "qdisc", "del", "dev", "eth0", "root"])
    link_up(lab, host)


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
