"""The controller's processes while a benchmark runs: a process tree's summed RSS (sampled) and CPU time.

The controller is this process and everything it starts (ansible-playbook and its forks or mitogen's
helpers, the ssh clients, pytest and its xdist workers), and any detached process the benchmark names (the
Prefect server it started), sampled as a tree of its own. Lab hosts are not the controller: they run
detached (``setsid --fork``), so they are in no sampled tree. The sum counts shared pages once per process
(RSS, not PSS): an upper bound.

    with TreeMemory(interval_s=0.2) as memory:
        ...
    memory.peak_mib, memory.peak_processes
"""

from __future__ import annotations

import os
import resource
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType

__all__ = ["TreeMemory", "children_max_rss_mib", "tree_cpu_s", "tree_pids"]

_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_MIB = 1024 * 1024


def tree_pids(root: int) -> list[int]:
    """Return ``root`` and all its living descendants, read from ``/proc/<pid>/task/*/children``."""
    found: list[int] = []
    pending = [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        try:
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                pending.extend(int(child) for child in (task / "children").read_text().split())
            except OSError:
                continue
    return found


def _rss_bytes(pid: int) -> int:
    try:
        # statm's second field: resident pages.
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0  # ended between listing and reading


def tree_cpu_s(root: int) -> float:
    """Return the CPU seconds (user + system) the living processes of ``root``'s tree have used so far.

    For a detached server (the Prefect server), whose CPU no ``getrusage`` of this process sees: the
    difference over a run is what the server spent on it (its idle polling included).
    """
    total = 0
    for pid in tree_pids(root):
        try:
            # Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / _CLOCK_TICKS


def children_max_rss_mib() -> float:
    """Return the largest RSS any reaped child (or its reaped descendants) ever had: ``ru_maxrss`` of children."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux reports KiB


class TreeMemory:
    """Samples the summed RSS of the trees under ``roots()`` (default: this process) every ``interval_s`` seconds."""

    def __init__(self, interval_s: float = 0.2, roots: Callable[[], Iterable[int]] | None = None) -> None:
        self.interval_s = interval_s
        self.roots = roots or (lambda: [os.getpid()])
        self.peak_bytes = 0
        self.peak_processes = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, name="tree-memory", daemon=True)

    @property
    def peak_mib(self) -> float:
        """Return the highest summed RSS seen, in MiB."""
        return self.peak_bytes / _MIB

    def sample(self) -> int:
        """Take one sample; return the summed RSS in bytes."""
        pids: set[int] = set()
        for root in self.roots():
            pids.update(tree_pids(root))
        total = sum(_rss_bytes(pid) for pid in pids)
        self.samples += 1
        if total > self.peak_bytes:
            self.peak_bytes, self.peak_processes = total, len(pids)
        return total

    def _sample_until_stopped(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval_s)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
