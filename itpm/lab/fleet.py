"""The lab fleet: N isolated SSH hosts on this machine, brought up, inspected and torn down.

Each host ``hN`` is its own network namespace on the lab's bridge, with its own hostname (UTS namespace), its
own writable root (a mount namespace with an overlay of a per-host upper dir over the shared read-only Debian
root from ``itpm.lab.rootfs``), its own PID namespace with tini as init, and its own sshd with its own host key.

Up is idempotent: running hosts are kept, missing or dead ones are (re)made. Down finds what to remove from the
kernel itself (namespaces named ``itpm-<lab>-*``), not only from the record, so it also clears a lab whose
record was lost; it leaves no namespace, mount, process, veth, bridge or route behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from itpm.atomic_file import write_atomic
from itpm.errors import LabError
from itpm.execution.connection import close_control_masters, control_path_dir
from itpm.inventory_groups import group_memberships
from itpm.lab import faults, network
from itpm.lab.inventory_file import LabInventoryHost, group_of, render_inventory, render_known_hosts
from itpm.lab.keys import ensure_key_pair, new_key_pair, write_private
from itpm.lab.rootfs import RootfsRecipe, ensure_rootfs
from itpm.settings import Settings

__all__ = ["HostState", "LabHostStatus", "LabRecord", "LabStatus", "lab_down", "lab_status", "lab_up"]

_LAB_NAME = re.compile(r"^[a-z][a-z0-9]{0,7}$")
MAX_HOSTS = 250  # one /24 per lab, .1 is the bridge
_SSH_WAIT_SECONDS = 30.0
_SECRET_MODE = 0o600  # written through write_private, never briefly readable by others


class HostState(StrEnum):
    """What ``lab status`` sees of a host."""

    UP = "up"  # init alive and sshd answering with a banner
    SSHD_DOWN = "sshd down"  # the host runs, but nothing answers on port 22
    DOWN = "down"  # no namespace or no init


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


class LabHostStatus(BaseModel):
    """One row of ``itpm lab status``."""

    model_config = ConfigDict(frozen=True)

    name: str
    address: str
    group: str
    state: HostState


class LabStatus(BaseModel):
    """What a lab looks like now; ``inventory`` is the file to hand to Ansible and testinfra."""

    model_config = ConfigDict(frozen=True)

    name: str
    subnet: str
    inventory: Path | None
    hosts: tuple[LabHostStatus, ...]

    @property
    def up(self) -> tuple[str, ...]:
        """Names of the hosts that answer SSH."""
        return tuple(h.name for h in self.hosts if h.state is HostState.UP)


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
    record = _load_record(lab_dir)
    # Subnets, bridges and the supernet route belong to the whole machine: two labs coming up at once must not
    # pick one subnet or both add the route.
    with network.machine_lock():
        if record is None:
            rootfs = ensure_rootfs(settings.rootfs_cache, RootfsRecipe(settings.debian_suite, settings.debian_mirror))
            record = LabRecord(
                name=name,
                subnet_index=_free_subnet_index(name),
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

    running = _running_hosts(name)
    wanted = [f"h{i}" for i in range(1, count + 1)]
    to_make = [h for h in wanted if h not in running or h not in record.hosts]
    # A running host whose sshd died is healed in place: re-making it would throw away its state.
    silent = set(wanted) - set(to_make) - _answering({h: record.hosts[h].address for h in wanted if h not in to_make})
    for host in silent:
        faults.start_sshd(name, host)
    if to_make:
        # A host being re-made gets a new host key: an old SSH master to it would skip the new key's check.
        close_control_masters(control_path_dir(settings))
        stale = [(h, int(h[1:])) for h in to_make]
        for host in to_make:
            _kill_namespace_processes(network.namespace_name(name, host))
        network.delete_host_links(name, stale)
    new_records = {h: _prepare_host(lab_dir, record, h, controller_key.public) for h in to_make}
    network.add_host_links(
        name,
        [(r.name, r.index, ipaddress.IPv4Address(r.address)) for r in new_records.values()],
        subnet.prefixlen,
    )
    for host_record in new_records.values():
        _boot(lab_dir, record, host_record)
    record.hosts.update(new_records)
    not_answering = _wait_for_ssh({h: record.hosts[h].address for h in [*to_make, *silent]}, _SSH_WAIT_SECONDS)
    _write_controller_files(record)
    write_atomic(lab_dir / "fleet.json", record.model_dump_json(indent=2))
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
    record = _load_record(lab_dir)
    close_control_masters(control_path_dir(settings))
    namespaces = network.list_namespaces(name)
    prefix = f"itpm-{name}-"
    removed = [ns.removeprefix(prefix) for ns in namespaces]
    for namespace in namespaces:
        _kill_namespace_processes(namespace)
    _kill_orphaned_hosts(lab_dir / "hosts")
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
    (lab_dir / "fleet.json").unlink(missing_ok=True)
    return sorted(removed, key=lambda h: int(h[1:]) if h[1:].isdigit() else 0)


def lab_status(settings: Settings, *, name: str) -> LabStatus:
    """Return each recorded host's state: up, sshd down, or down."""
    record = _load_record(settings.lab_dir / name)
    if record is None:
        return LabStatus(name=name, subnet="", inventory=None, hosts=())
    running = _running_hosts(name)
    answering = _answering({h.name: h.address for h in record.hosts.values() if h.name in running})
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


def _load_record(lab_dir: Path) -> LabRecord | None:
    path = lab_dir / "fleet.json"
    if not path.exists():
        return None
    return LabRecord.model_validate_json(path.read_text())


def _free_subnet_index(name: str) -> int:
    taken = network.used_subnet_indexes()
    for index, interface in taken.items():
        if interface == network.bridge_name(name):
            return index
    for index in range(256):
        if index not in taken:
            return index
    raise LabError("all 256 lab subnets of 10.77.0.0/16 are in use", fix="itpm lab down the labs you do not need")


def _running_hosts(lab: str) -> set[str]:
    """Hosts whose namespace holds a live init (tini)."""
    prefix = f"itpm-{lab}-"
    alive = set()
    for namespace in network.list_namespaces(lab):
        for pid in network.namespace_pids(namespace):
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() == "tini":
                    alive.add(namespace.removeprefix(prefix))
                    break
            except OSError:
                continue
    return alive


def _kill_namespace_processes(namespace: str) -> None:
    # SIGKILL of a PID namespace's init kills every process in it, and with them the host's mount namespace
    # and overlay; the remaining pids (unshare, the boot shell's parent) are killed directly.
    for _ in range(50):
        pids = network.namespace_pids(namespace)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
    raise LabError(f"processes in {namespace} survived SIGKILL", fix="check `ip netns pids` for stuck processes")


def _kill_orphaned_hosts(hosts_dir: Path) -> None:
    """Kill hosts whose namespace name is gone but whose processes live on.

    Deleting a namespace's name does not stop the processes inside it (a lab brought down by one process while
    another was booting its hosts left such orphans), and ``ip netns pids`` can no longer find them. Their boot
    command line names the host directory; killing the init (the boot process's child) ends the whole host.
    """
    marker = str(hosts_dir) + "/"
    boots = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                boots.append(int(proc.name))
        except OSError:
            continue
    for pid in boots:
        for child in _children(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _prepare_host(lab_dir: Path, record: LabRecord, name: str, controller_public: str) -> LabHostRecord:
    """Make a fresh overlay upper dir holding the host's identity; return its record."""
    index = int(name[1:])
    address = str(list(network.lab_subnet(record.subnet_index).hosts())[index])
    host_dir = lab_dir / "hosts" / name
    shutil.rmtree(host_dir, ignore_errors=True)
    upper = host_dir / "upper"
    for sub in ("upper", "work", "merged"):
        (host_dir / sub).mkdir(parents=True)
    host_key = new_key_pair(name)
    files: dict[str, tuple[bytes, int, str]] = {
        "etc/hostname": (f"{name}\n".encode(), 0o644, "root"),
        "etc/hosts": (f"127.0.0.1\tlocalhost\n{address}\t{name}\n".encode(), 0o644, "root"),
        "etc/ssh/ssh_host_ed25519_key": (host_key.private, 0o600, "root"),
        "etc/ssh/ssh_host_ed25519_key.pub": ((host_key.public + "\n").encode(), 0o644, "root"),
        "root/.ssh/authorized_keys": ((controller_public + "\n").encode(), 0o600, "root"),
        "home/deploy/.ssh/authorized_keys": ((controller_public + "\n").encode(), 0o600, "deploy"),
    }
    owners = _passwd_ids(record.rootfs)
    for relative, (content, mode, owner) in files.items():
        target = upper / relative
        _make_parents_like_lower(upper, record.rootfs, Path(relative).parent, owners[owner])
        if mode == _SECRET_MODE:
            write_private(target, content)
        else:
            target.write_bytes(content)
            target.chmod(mode)
        os.chown(target, *owners[owner])
    return LabHostRecord(name=name, index=index, address=address, host_key=host_key.public)


def _make_parents_like_lower(upper: Path, lower: Path, relative: Path, owner: tuple[int, int]) -> None:
    """Create ``relative`` under ``upper`` with the mode and owner its twin has in the lower root.

    An overlay directory present in both layers takes its attributes from the upper one, so a directory
    created here with the wrong mode would change the host (sshd refuses keys under a loose ~/.ssh).
    """
    current = Path()
    for part in relative.parts:
        current /= part
        made = upper / current
        if made.exists():
            continue
        made.mkdir()
        twin = lower / current
        if twin.exists():
            stat = twin.stat()
            made.chmod(stat.st_mode & 0o7777)
            os.chown(made, stat.st_uid, stat.st_gid)
        else:  # a new ~/.ssh
            made.chmod(0o700)
            os.chown(made, *owner)


def _passwd_ids(rootfs: Path) -> dict[str, tuple[int, int]]:
    ids = {}
    for line in (rootfs / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        ids[fields[0]] = (int(fields[2]), int(fields[3]))
    return ids


def _boot(lab_dir: Path, record: LabRecord, host: LabHostRecord) -> None:
    host_dir = lab_dir / "hosts" / host.name
    boot_script = resources.files("itpm.lab").joinpath("boot.sh")
    namespace = network.namespace_name(record.name, host.name)
    command = [
        "setsid",
        "--fork",
        "ip",
        "netns",
        "exec",
        namespace,
        "unshare",
        "--mount",
        "--uts",
        "--ipc",
        "--pid",
        "--fork",
        "--propagation",
        "private",
        "/bin/sh",
        str(boot_script),
        host.name,
        str(record.rootfs),
        str(host_dir),
    ]
    with (host_dir / "boot.log").open("wb") as log:
        # setsid --fork returns at once: the host lives on, detached from this process and its terminal.
        subprocess.run(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, check=True)


def _banner(address: str, timeout: float) -> bool:
    try:
        with socket.create_connection((address, 22), timeout=timeout) as sock:
            sock.settimeout(timeout)
            return sock.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def _answering(addresses: dict[str, str]) -> set[str]:
    if not addresses:
        return set()
    with ThreadPoolExecutor(max_workers=min(64, len(addresses))) as pool:
        answers = dict(zip(addresses, pool.map(lambda a: _banner(a, 1.0), addresses.values()), strict=True))
    return {host for host, ok in answers.items() if ok}


def _wait_for_ssh(addresses: dict[str, str], timeout: float) -> list[str]:
    """Wait until every host answers with an SSH banner; return the ones that never did."""
    deadline = time.monotonic() + timeout
    pending = dict(addresses)
    while pending and time.monotonic() < deadline:
        for host in _answering(pending):
            del pending[host]
        if pending:
            time.sleep(0.05)
    return sorted(pending, key=lambda h: int(h[1:]))


def _write_controller_files(record: LabRecord) -> None:
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
