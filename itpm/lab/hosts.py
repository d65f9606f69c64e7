"""A lab host's life as processes: booted into its own namespaces, found running, and killed with all it runs.

A host is a PID namespace with tini as init (and sshd under it), inside a mount, UTS and IPC namespace of its
own, entered from its network namespace; ``boot.sh`` builds its root (an overlay of its upper dir over the
shared read-only root) and starts init. Killing init ends every process of the host, and with them its mounts.

>>> running_hosts("lab")  # doctest: +SKIP
{'h1', 'h2', 'h3'}
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from importlib import resources
from pathlib import Path

from itpm.errors import LabError
from itpm.lab import network
from itpm.lab.record import LabHostRecord, LabRecord

__all__ = ["boot", "kill_namespace_processes", "kill_orphaned_hosts", "running_hosts"]


def boot(lab_dir: Path, record: LabRecord, host: LabHostRecord) -> None:
    """Start ``host`` in its network namespace, detached; its boot output goes to ``hosts/<name>/boot.log``."""
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


def running_hosts(lab: str) -> set[str]:
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


def kill_namespace_processes(namespace: str) -> None:
    """SIGKILL every process in the network namespace ``namespace`` until none is left (LabError if some survive)."""
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


def kill_orphaned_hosts(hosts_dir: Path) -> None:
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
