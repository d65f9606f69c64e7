"""Where a run's wall time goes: chosen functions wrapped with timers, each call's own time kept apart.

A benchmark wraps the functions it wants to account for (ProjectRun's methods, the flow's tasks, Prefect's
artifact calls), runs once, and reads the calls back. A call's ``own_s`` is its wall time minus the wall time
of the wrapped calls made inside it, so the own times of all calls add up to the time spent in any of them,
with nothing counted twice::

    timer = CallTimer()
    timer.wrap(ProjectRun, "audit", "itpm")
    with timer:
        run.audit(step, "before")
    timer.own_by_category()  # {'itpm': 4.2}

The project's work runs in one thread at a time (a sync flow runs its tasks in order), so one stack of open
calls serves all threads; a lock keeps that stack consistent if Prefect's own threads call a wrapped function.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

__all__ = ["Call", "CallTimer"]


@dataclass
class Call:
    """One call of a wrapped function: ``Call('ProjectRun.audit', 'itpm', started=12.1, ended=16.4, own_s=0.3)``."""

    name: str
    category: str
    started: float  # time.monotonic()
    ended: float = 0.0
    own_s: float = 0.0  # wall time minus that of the wrapped calls inside it
    depth: int = 0  # 0: called by unwrapped code
    _inner_s: float = field(default=0.0, repr=False)

    @property
    def wall_s(self) -> float:
        """Return the call's wall time, the wrapped calls inside it included."""
        return self.ended - self.started


class CallTimer:
    """Wraps functions with timers; a context manager that puts the originals back on exit."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._open: list[Call] = []
        self._lock = threading.Lock()
        self._originals: list[tuple[object, str, Any]] = []

    def wrap(self, owner: object, name: str, category: str, label: str | None = None) -> None:
        """Time every call of ``owner.name`` (a module function, a method, a classmethod) under ``category``."""
        static = inspect.getattr_static(owner, name)
        self._originals.append((owner, name, static))
        title = label or f"{getattr(owner, '__name__', owner)}.{name}"
        if isinstance(static, classmethod):
            setattr(owner, name, classmethod(self._timed(static.__func__, title, category)))
        elif isinstance(static, staticmethod):
            setattr(owner, name, staticmethod(self._timed(static.__func__, title, category)))
        else:
            setattr(owner, name, self._timed(static, title, category))

    def _timed(self, function: Callable[..., Any], name: str, category: str) -> Callable[..., Any]:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401 - passes through whatever it wraps
            with self._call(name, category):
                return function(*args, **kwargs)

        return timed

    @contextlib.contextmanager
    def _call(self, name: str, category: str) -> Iterator[None]:
        with self._lock:
            call = Call(name, category, time.monotonic(), depth=len(self._open))
            self._open.append(call)
        try:
            yield
        finally:
            with self._lock:
                call.ended = time.monotonic()
                call.own_s = call.wall_s - call._inner_s
                self._open.remove(call)
                if self._open:
                    self._open[-1]._inner_s += call.wall_s
                self.calls.append(call)

    def restore(self) -> None:
        """Put every wrapped function back as it was."""
        for owner, name, static in reversed(self._originals):
            setattr(owner, name, static)
        self._originals.clear()

    def __enter__(self) -> CallTimer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.restore()

    def own_by_category(self) -> dict[str, float]:
        """Return the own time of all calls per category: ``{'itpm': 41.2, 'prefect task': 0.8}``."""
        totals: dict[str, float] = {}
        for call in self.calls:
            totals[call.category] = totals.get(call.category, 0.0) + call.own_s
        return totals

    def own_by_name(self, category: str | None = None) -> dict[str, tuple[int, float]]:
        """Return (calls, own seconds) per wrapped function: ``{'ProjectRun.audit': (2, 8.4)}``."""
        totals: dict[str, tuple[int, float]] = {}
        for call in self.calls:
            if category is None or call.category == category:
                count, seconds = totals.get(call.name, (0, 0.0))
                totals[call.name] = (count + 1, seconds + call.own_s)
        return totals

    def named(self, name: str) -> list[Call]:
        """Return the calls of one wrapped function, in the order they ended."""
        return [call for call in self.calls if call.name == name]

    def clear(self) -> None:
        """Forget the calls recorded so far (the wrappers stay)."""
        with self._lock:
            self.calls.clear()
