"""A process that opens a project log and writes to it, for the tests of many processes, crashes and migration.

Run from the repository root as ``python -m tests.log_writer MODE URL [RUN_ID COUNT]``:

- ``open``: import everything, print ``ready``, wait for a line on stdin, open the log (alembic's log lines on
  stderr), print ``opened``;
- ``append``: open the log, print ``ready``, wait for a line on stdin, then log RunStarted, COUNT events whose
  ``host`` is their sequence number (``h0``, ``h1``, ...) and RunFinished; COUNT 0 appends until killed. Each
  event's id is printed (and flushed) once its commit has returned.

Waiting for stdin lets the test start the processes first and then release them at the same moment; ``launch``
does that from the test's side.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from itpm.log.events import CostBooked, Event, HostApplied, NoteAdded, RunFinished, RunStarted
from itpm.log.store import ProjectLog

ROOT = Path(__file__).resolve().parents[1]


def sequence(run_id: str, index: int) -> Event:
    """Return the ``index``-th event of the run: ``host`` says ``index``; a mix of kinds, Decimal amounts too."""
    host = f"h{index}"
    if index % 3 == 1:
        return CostBooked(
            run_id=run_id, project="p", host=host, category="hosts", amount=Decimal("0.10") * index, currency="EUR"
        )
    if index % 3 == 2:
        return NoteAdded(run_id=run_id, project="p", host=host, author="writer", text=f"note {index} ✓")
    return HostApplied(run_id=run_id, project="p", step="s", host=host, status="changed", changed_tasks=index)


def run_started(run_id: str) -> RunStarted:
    """Return the RunStarted each writer logs first."""
    return RunStarted(
        run_id=run_id,
        project="p",
        project_file="projects/p.yaml",
        title=f"run {run_id}",
        project_kind="baseline",
        environment="lab",
        requester="writer",
        hosts=[],
        steps=["s"],
    )


def main(argv: list[str]) -> None:
    """Run one mode of the writer (see the module docstring)."""
    mode, url = argv[0], argv[1]
    if mode == "open":
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
        print("ready", flush=True)
        sys.stdin.readline()
        with ProjectLog(url):
            print("opened", flush=True)
        return
    run_id, count = argv[2], int(argv[3])
    with ProjectLog(url) as log:
        print("ready", flush=True)
        sys.stdin.readline()
        print(log.append(run_started(run_id)), flush=True)
        for index in range(count) if count else itertools.count():
            print(log.append(sequence(run_id, index)), flush=True)
        print(log.append(RunFinished(run_id=run_id, project="p", status="completed")), flush=True)


@contextlib.contextmanager
def launch(*commands: list[str]) -> Iterator[list[subprocess.Popen[str]]]:
    """Start a writer per argument list, wait until all are ready, release them together; yield the processes.

    When the block ends, processes still running are killed and every one is waited for, so that a failed test
    leaves no process (nor an unclosed pipe) behind.
    """
    with contextlib.ExitStack() as stack:
        processes: list[subprocess.Popen[str]] = []
        for arguments in commands:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.log_writer", *arguments],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            stack.enter_context(process)  # on exit: close its pipes, wait for it
            stack.callback(_kill_if_running, process)  # runs first (last in, first out)
            processes.append(process)
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline() == "ready\n"
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        yield processes


def _kill_if_running(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()


if __name__ == "__main__":
    main(sys.argv[1:])
