"""A run's project log printed as it is written, while the command that runs it waits (``itpm run``, ``demo``)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from itpm import console as render
from itpm.cli import consoles
from itpm.log.store import ProjectLog, ProjectLogError

__all__ = ["following"]


@contextlib.contextmanager
def following(log: ProjectLog, run_id: str) -> Iterator[None]:
    """Print the run's log events as they are committed while the block runs, and the rest after it."""
    stop = threading.Event()
    follower = threading.Thread(target=_follow, args=(log, run_id, stop), daemon=True)
    follower.start()
    try:
        yield
    finally:
        stop.set()
        follower.join(timeout=5)


def _follow(log: ProjectLog, run_id: str, stop: threading.Event) -> None:
    """Print the run's log events as they are committed, until ``stop`` is set (then print the rest)."""
    last = 0
    while True:
        done = stop.is_set()
        # A log that cannot be read for a moment (a full disk) is read again on the next tick; if that stops
        # the run, the run's own error says so.
        with contextlib.suppress(ProjectLogError):
            for event_id, entry in log.events_with_ids(run_id, after_id=last):
                last = event_id
                consoles.err.print(render.event_line(entry), highlight=False)
        if done:
            return
        stop.wait(0.5)
