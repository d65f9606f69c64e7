"""Timing an outside command for the benchmarks: wall and CPU seconds, and never a process left behind."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TimedRun", "children_cpu_s", "own_and_children_cpu_s", "run_timed"]


def children_cpu_s() -> float:
    """Return the CPU seconds (user + system) of every child process this process has reaped so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def own_and_children_cpu_s() -> float:
    """Return the CPU seconds of this process and its reaped children (for work done partly in-process)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime + children_cpu_s()


@dataclass(frozen=True)
class TimedRun:
    """One run of a command: its exit code (None when it timed out), wall and controller CPU seconds."""

    rc: int | None
    wall_s: float
    cpu_s: float
    log: Path
    timeout_s: float

    def failure(self, name: str) -> str:
        """Return why the run is not usable, with the last lines of its log: ``'pytest exit 2 (log ...): ...'``."""
        lines = [line for line in self.log.read_text(errors="replace").splitlines() if line.strip()]
        why = f"timed out after {self.timeout_s:.0f} s" if self.rc is None else f"exit {self.rc}"
        return f"{name} {why} (log {self.log}): " + " | ".join(lines[-4:])


def run_timed(command: Sequence[str], *, cwd: Path, env: dict[str, str], log: Path, timeout_s: float) -> TimedRun:
    """Run ``command`` with its output in ``log``; kill its whole session if it outlives ``timeout_s``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    cpu_before = children_cpu_s()
    started = time.monotonic()
    with log.open("wb") as out:
        # Its own session, so a timeout or Ctrl-C ends every process of the run: mitogen's helpers, pytest's
        # workers, ssh commands (../shared/LAB-NOTES.md: a killed mitogen run left orphans behind).
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            rc: int | None = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            rc = None
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    return TimedRun(rc, time.monotonic() - started, children_cpu_s() - cpu_before, log, timeout_s)
