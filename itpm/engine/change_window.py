"""Waiting for a step's change window: the run blocks, polling each minute, until the window is open.

>>> wait_for_window(step.strategy.change_window, sleep=time.sleep)  # doctest: +SKIP
0.0
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from itpm.log.events import now
from itpm.models.strategy import ChangeWindow

__all__ = ["wait_for_window"]

POLL_S = 60.0  # a window opens on a minute; polling more often buys nothing


def wait_for_window(
    window: ChangeWindow | None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] | None = None,
) -> float:
    """Block until ``window`` is open (None: always open); return the seconds waited. ``clock``: ``now``."""
    clock = clock or now
    waited = 0.0
    while window is not None and not window.contains(clock()):
        sleep(POLL_S)
        waited += POLL_S
    return waited
