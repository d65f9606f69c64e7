"""The lab's network: one private bridge per lab, one network namespace and veth pair per host.

Every lab lives in ``10.77.<k>.0/24`` (bridge at ``.1``, host ``hN`` at ``.N+1``). An ``unreachable`` route for
all of ``10.77.0.0/16`` makes sure traffic for a host that is down never leaves the machine.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from itpm.errors import LabError

__all__ = [
    "LAB_SUPERNET",
    "add_host_links",
    "bridge_name",
    "delete_host_links",
    "ensure_bridge",
    "free_subnet_index",
    "host_address",
    "lab_subnet",
    "list_namespaces",
    "namespace_name",
    "namespace_pids",
    "remove_bridge",
    "run_ip",
    "used_subnet_indexes",
    "veth_name",
]

LAB_SUPERNET = ipaddress.IPv4Network("10.77.0.0/16")
_BRIDGE_PREFIX = "ib-"
# Machine-wide, like the bridges and routes it guards (every state directory's labs share them).
_MACHINE_LOCK = Path("/run/lock/itpm-lab-network.lock")


def bridge_name(lab: str) -> str:
    """Return the bridge of a lab: ``bridge_name('lab') == 'ib-lab'`` (kept under 15 characters)."""
    return f"{_BRIDGE_PREFIX}{lab}"


def namespace_name(lab: str, host: str) -> str:
    """Return the network namespace of a host: ``namespace_name('lab', 'h3') == 'itpm-lab-h3'``."""
    return f"itpm-{lab}-{host}"


def veth_name(lab: str, index: int) -> str:
    """Return the controller side of a host's veth pair: ``veth_name('lab', 3) == 'iv-lab-3'``."""
    return f"iv-{lab}-{index}"


def lab_subnet(index: int) -> ipaddress.IPv4Network:
    """Return the /24 of the lab with subnet index ``index``: ``lab_subnet(2)`` is ``10.77.2.0/24``."""
    return ipaddress.IPv4Network(f"10.77.{index}.0/24")


def host_address(subnet_index: int, index: int) -> str:
    """Return the address of host ``h<index>`` in the lab's subnet: ``host_address(2, 3) == '10.77.2.4'``."""
    return str(list(lab_subnet(subnet_index).hosts())[index])


def run_ip(args: Sequence[str], *, batch: Iterable[str] = (), check: bool = True) -> str:
    """Run ``ip`` with ``args`` (and ``batch`` lines on stdin for ``-batch -``); return its stdout."""
    lines = "\n".join(batch)
    done = subprocess.run(["ip", *args], input=lines or None, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise LabError(
            f"ip {' '.join(args)} failed (exit {done.returncode}): {done.stderr.strip()}",
            fix="run as root on a kernel with network namespaces; `itpm lab down` clears a half-made lab",
        )
    return done.stdout


def used_subnet_indexes() -> dict[int, str]:
    """Return which lab subnets are taken by existing bridges: ``{0: 'ib-lab', 1: 'ib-labtest'}``."""
    taken: dict[int, str] = {}
    for link in json.loads(run_ip(["-j", "-4", "addr", "show"]) or "[]"):
        for addr in link.get("addr_info", []):
            address = ipaddress.IPv4Address(addr["local"])
            if address in LAB_SUPERNET:
                taken[address.packed[2]] = link["ifname"]
    return taken


def free_subnet_index(lab: str) -> int:
    """Return the subnet index ``lab``'s bridge already has, else the first one no bridge has (hold machine_lock)."""
    taken = used_subnet_indexes()
    for index, interface in taken.items():
        if interface == bridge_name(lab):
            return index
    for index in range(256):
        if index not in taken:
            return index
    raise LabError("all 256 lab subnets of 10.77.0.0/16 are in use", fix="itpm lab down the labs you do not need")


@contextlib.contextmanager
def machine_lock() -> Iterator[None]:
    """Hold the machine-wide lock of lab networking (subnet choice, bridges, the supernet route) for the block."""
    _MACHINE_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with _MACHINE_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def ensure_bridge(lab: str, subnet: ipaddress.IPv4Network) -> None:
    """Create the lab's bridge with the subnet's first address, and the unreachable supernet route."""
    bridge = bridge_name(lab)
    if not run_ip(["-br", "link", "show", "dev", bridge], check=False).strip():
        gateway = next(subnet.hosts())
        run_ip(
            ["-batch", "-"],
            batch=[
                f"link add {bridge} type bridge",
                f"addr add {gateway}/{subnet.prefixlen} dev {bridge}",
                f"link set {bridge} up",
            ],
        )
    routes = run_ip(["route", "show", "type", "unreachable", str(LAB_SUPERNET)], check=False)
    if not routes.strip():
        run_ip(["route", "add", "unreachable", str(LAB_SUPERNET)])


def remove_bridge(lab: str) -> None:
    """Delete the lab's bridge, and the supernet route once no lab bridge is left."""
    bridge = bridge_name(lab)
    if run_ip(["-br", "link", "show", "dev", bridge], check=False).strip():
        run_ip(["link", "del", bridge])
    remaining = [name for name in used_subnet_indexes().values() if name.startswith(_BRIDGE_PREFIX)]
    if not remaining:
        run_ip(["route", "del", "unreachable", str(LAB_SUPERNET)], check=False)


def add_host_links(lab: str, hosts: Sequence[tuple[str, int, ipaddress.IPv4Address]], prefixlen: int) -> None:
    """Create a namespace and veth pair per ``(name, index, address)``, address it and bring it up."""
    bridge = bridge_name(lab)
    root_side: list[str] = []
    for name, index, _ in hosts:
        namespace = namespace_name(lab, name)
        veth = veth_name(lab, index)
        root_side += [
            f"netns add {namespace}",
            f"link add {veth} type veth peer name eth0 netns {namespace}",
            f"link set {veth} master {bridge}",
            f"link set {veth} up",
        ]
    run_ip(["-batch", "-"], batch=root_side)
    for name, _, address in hosts:
        run_ip(
            ["-n", namespace_name(lab, name), "-batch", "-"],
            batch=["link set lo up", f"addr add {address}/{prefixlen} dev eth0", "link set eth0 up"],
        )


def delete_host_links(lab: str, hosts: Sequence[tuple[str, int]]) -> None:
    """Delete each host's veth and namespace; raise LabError if any is still there afterwards.

    The veth is deleted explicitly: namespace deletion is asynchronous, and a veth still being torn down makes
    an immediate ``lab up`` fail with "File exists". Either may also vanish by itself while this runs (a dying
    namespace takes its veth with it), so errors about missing devices are expected; what counts is the end.
    """
    batch: list[str] = []
    for name, index in hosts:
        batch += [f"link del {veth_name(lab, index)}", f"netns del {namespace_name(lab, name)}"]
    if batch:
        run_ip(["-force", "-batch", "-"], batch=batch, check=False)
    existing = set(list_namespaces(lab))
    left = [namespace_name(lab, n) for n, _ in hosts if namespace_name(lab, n) in existing]
    left += [
        veth_name(lab, i)
        for _, i in hosts
        if run_ip(["-br", "link", "show", "dev", veth_name(lab, i)], check=False).strip()
    ]
    if left:
        raise LabError(f"could not delete {', '.join(left)}", fix="check `ip netns pids` for processes holding them")


def list_namespaces(lab: str) -> list[str]:
    """Return the network namespaces that belong to ``lab``: ``['itpm-lab-h1', 'itpm-lab-h2']``."""
    prefix = f"itpm-{lab}-"
    names = [line.split()[0] for line in run_ip(["netns", "list"]).splitlines() if line.strip()]
    return sorted(name for name in names if name.startswith(prefix))


def namespace_pids(namespace: str) -> list[int]:
    """Return the pids of every process inside a network namespace."""
    return [int(pid) for pid in run_ip(["netns", "pids", namespace], check=False).split()]
