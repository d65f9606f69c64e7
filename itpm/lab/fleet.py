"""The lab fleet: N isolated SSH hosts on this machine, brought up, inspected and torn down.

Each host ``hN`` is its own network namespace on the lab's bridge, with its own hostname (UTS namespace), its
own writable root (a mount namespace with an overlay of a per-host upper dir over the shared read-only Debian
root from ``itpm.lab.rootfs``), its own PID namespace with tini as init, and its own sshd with its own host key.

Up is idempotent: running hosts are kept, missing or dead ones are (re)made. Down finds what to remove from the
kernel itself (namespaces named ``itpm-<lab>-*``), not only from the record, so it also clears a lab whose
record was lost; it leaves no namespace, mount, process, veth, bridge or route behind.

This module orders the work; the pieces live beside it: ``network`` (bridge, subnets, addresses, veths),
``overlay`` (a host's own files), ``hosts`` (booting, finding and killing a host's processes), ``ssh_probe``
(whether sshd answers), ``record`` (``fleet.json``, the inventory and known_hosts), ``status`` (what ``lab
status`` shows).
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from itpm.errors import LabError
from itpm.execution.connection import close_control_masters, control_path_dir
from itpm.lab import faults, network, ssh_probe
from itpm.lab.hosts import boot, kill_namespace_processes, kill_orphaned_hosts, running_hosts
from itpm.lab.inventory_file import group_of
from itpm.lab.keys import ensure_key_pair
from itpm.lab.overlay import prepare_host
from itpm.lab.record import LabRecord, load_record, record_path, save_record, write_controller_files
from itpm.lab.rootfs import RootfsRecipe, ensure_rootfs
from itpm.lab.status import HostState, LabHostStatus, LabStatus
from itpm.settings import Settings

__all__ = ["MAX_HOSTS", "lab_down", "lab_status", "lab_up"]

_LAB_NAME = re.compile(r"^[a-z][a-z0-9]{0,7}$")
MAX_HOSTS = 250  # one /24 per lab, .1 is the bridge
_SSH_WAIT_SECONDS = 30.0


@contextlib.contextmanager
def _exclusive(lab_dir: Path) -> Iterator[None]:
    """Hold the lab's lock: two ``up``/``down`` of one lab at once would interleave namespace changes."""
    lab_dir.mkdir(parents=True, exist_ok=True)
    with (lab_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def lab_up(settings: Settings, *, name: str, count: int, inventory: Path | None = None) -> LabStatus:
    """Make hosts ``h1..h<count>`` of lab ``name`` run and answer SSH; keep the ones already running.

    Returns the lab's status, e.g. ``LabStatus(name='lab', subnet='10.77.0.0/24', hosts=(h1 up, ...))``.
    ``inventory`` defaults to ``inventory/<name>/hosts.yml`` under the working directory.
    """
    _check_can_run_lab(name, count)
    with _exclusive(settings.lab_dir / name):
        _lab_up_locked(settings, name, count, inventory)
    return lab_status(settings, name=name)


def _lab_up_locked(settings: Settings, name: str, count: int, inventory: Path | None) -> None:
    lab_dir = settings.lab_dir / name
    record = load_record(lab_dir)
    # Subnets, bridges and the supernet route belong to the whole machine: two labs coming up at once must not
    # pick one subnet or both add the route.
    with network.machine_lock():
        if record is None:
            rootfs = ensure_rootfs(settings.rootfs_cache, RootfsRecipe(settings.debian_suite, settings.debian_mirror))
            record = LabRecord(
                name=name,
                subnet_index=network.free_subnet_index(name),
                rootfs=rootfs,
                inventory=(inventory or Path("inventory") / name / "hosts.yml").resolve(),
                known_hosts=lab_dir / "known_hosts",
                private_key=lab_dir / "id_ed25519",
            )
        elif inventory is not None:
            record = record.model_copy(update={"inventory": inventory.resolve()})
        if not record.rootfs.exists():
            raise LabError(
                f"lab '{name}' was made on the root {record.rootfs}, which no longer exists",
                fix=f"itpm lab down --name {name}, then up again",
            )
        subnet = network.lab_subnet(record.subnet_index)
        controller_key = ensure_key_pair(record.private_key, f"itpm-controller@{name}")
        network.ensure_bridge(name, subnet)

    running = running_hosts(name)
    wanted = [f"h{i}" for i in range(1, count + 1)]
    to_make = [h for h in wanted if h not in running or h not in record.hosts]
    # A running host whose sshd died is healed in place: re-making it would throw away its state.
    kept = {h: record.hosts[h].address for h in wanted if h not in to_make}
    silent = set(kept) - ssh_probe.answering(kept)
    for host in silent:
        faults.start_sshd(name, host)
    if to_make:
        # A host being re-made gets a new host key: an old SSH master to it would skip the new key's check.
        close_control_masters(control_path_dir(settings))
        stale = [(h, int(h[1:])) for h in to_make]
        for host in to_make:
            kill_namespace_processes(network.namespace_name(name, host))
        network.delete_host_links(name, stale)
    new_records = {h: prepare_host(lab_dir, record, h, controller_key.public) for h in to_make}
    network.add_host_links(
        name,
        [(r.name, r.index, ipaddress.IPv4Address(r.address)) for r in new_records.values()],
        subnet.prefixlen,
    )
    for host_record in new_records.values():
        boot(lab_dir, record, host_record)
    record.hosts.update(new_records)
    not_answering = ssh_probe.wait_for_ssh({h: record.hosts[h].address for h in [*to_make, *silent]}, _SSH_WAIT_SECONDS)
    write_controller_files(record)
    save_record(lab_dir, record)
    if not_answering:
        logs = ", ".join(str(lab_dir / "hosts" / h / "boot.log") for h in not_answering[:3])
        raise LabError(
            f"lab '{name}': sshd did not answer within {_SSH_WAIT_SECONDS:.0f} s on {', '.join(not_answering)}",
            fix=f"read the boot log ({logs}); `itpm lab down --name {name}` clears the lab",
        )


def lab_down(settings: Settings, *, name: str) -> list[str]:
    """Stop and remove every host of lab ``name`` and the lab's network; return the hosts removed."""
    _check_root()
    with _exclusive(settings.lab_dir / name):
        return _lab_down_locked(settings, name)


def _lab_down_locked(settings: Settings, name: str) -> list[str]:
    lab_dir = settings.lab_dir / name
    record = load_record(lab_dir)
    close_control_masters(control_path_dir(settings))
    namespaces = network.list_namespaces(name)
    prefix = f"itpm-{name}-"
    removed = [ns.removeprefix(prefix) for ns in namespaces]
    for namespace in namespaces:
        kill_namespace_processes(namespace)
    kill_orphaned_hosts(lab_dir / "hosts")
    known = {h: int(h[1:]) for h in removed if h[1:].isdigit()}
    if record is not None:
        known.update({h.name: h.index for h in record.hosts.values()})
    network.delete_host_links(name, sorted(known.items()))
    with network.machine_lock():
        network.remove_bridge(name)
    if record is not None:
        for generated in (record.inventory, record.known_hosts):
            generated.unlink(missing_ok=True)
    shutil.rmtree(lab_dir / "hosts", ignore_errors=True)
    record_path(lab_dir).unlink(missing_ok=True)
    return sorted(removed, key=lambda h: int(h[1:]) if h[1:].isdigit() else 0)


def lab_status(settings: Settings, *, name: str) -> LabStatus:
    """Return each recorded host's state: up, sshd down, or down."""
    record = load_record(settings.lab_dir / name)
    if record is None:
        return LabStatus(name=name, subnet="", inventory=None, hosts=())
    running = running_hosts(name)
    answering = ssh_probe.answering({h.name: h.address for h in record.hosts.values() if h.name in running})
    rows = []
    for host in sorted(record.hosts.values(), key=lambda h: h.index):
        if host.name not in running:
            state = HostState.DOWN
        elif host.name in answering:
            state = HostState.UP
        else:
            state = HostState.SSHD_DOWN
        rows.append(LabHostStatus(name=host.name, address=host.address, group=group_of(host.index), state=state))
    return LabStatus(
        name=name,
        subnet=str(network.lab_subnet(record.subnet_index)),
        inventory=record.inventory,
        hosts=tuple(rows),
    )


def _check_root() -> None:
    if os.geteuid() != 0:
        raise LabError(
            "the lab fleet needs root: it creates network namespaces, bridges and mounts",
            fix="run as root (CI and the lab machines run as root)",
        )


def _check_can_run_lab(name: str, count: int) -> None:
    if not _LAB_NAME.fullmatch(name):  # `$` alone lets "lab\n" through
        raise LabError(
            f"lab name {name!r} is not usable: it names bridges and interfaces (15 characters at most)",
            fix="use 1 to 8 lowercase letters and digits, starting with a letter, e.g. --name lab",
        )
    if not 1 <= count <= MAX_HOSTS:
        raise LabError(f"--hosts {count}: a lab has 1 to {MAX_HOSTS} hosts", fix="pick a count in that range")
    _check_root()
    missing = [tool for tool in ("ip", "unshare", "pivot_root", "mount") if shutil.which(tool) is None]
    if missing:
        raise LabError(f"missing tools for the lab: {', '.join(missing)}", fix="apt-get install -y iproute2 util-linux")
