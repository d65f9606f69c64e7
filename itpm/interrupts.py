"""Ctrl-C and SIGTERM stop a run cleanly, in any phase: ``Interrupted`` is raised where it is safe to stop.

The CLI (or a flow) holds ``stop_on_signals()`` around a command. A SIGINT or SIGTERM then marks a stop as
requested and raises ``Interrupted`` in the main thread; ``try``/``finally`` blocks on the way up end Ansible,
release locks and log where the run stopped, and the CLI exits 130 (SIGINT) or 143 (SIGTERM)::

    with stop_on_signals():
        try:
            engine.run(...)
        except Interrupted as stop:              # stop.signal_name == "SIGTERM", stop.exit_code == 143
            with deferred_signals():             # a second Ctrl-C does not cut the note short
                journal.append(RunStopped(...))  # where it stopped
            raise stop.for_run(run_id) from stop

Code that must not be cut in the middle defers the raise to its end; the signal is not lost::

    with deferred_signals():
        store.append(event)    # a SIGTERM here is raised as Interrupted once the event is whole

Code that waits on something it must end first (a playbook: ansible-runner's ``cancel_callback``) runs deferred
and polls ``stop_requested()``; threads other than the main one, where no signal is ever raised, do the same and
call ``raise_if_stop_requested()`` at a safe point. ``itpm.execution.runner.run_playbook`` does both.

A stop is sticky: once requested, ``stop_requested()`` stays True until the next outermost ``stop_on_signals()``
begins, so nothing started later (another playbook, another batch) runs. SIGKILL is the way to stop without
this care; ``itpm resume`` cleans up after it too.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = [
    "Interrupted",
    "deferred_signals",
    "raise_if_stop_requested",
    "stop_on_signals",
    "stop_requested",
]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Stop:
    """The process's one stop: requested or not, by which signal, and how the main thread stands towards it."""

    def __init__(self) -> None:
        # An Event, so that a worker thread's playbook sees a stop the main thread's handler marked.
        self.requested = threading.Event()
        self.signal_name = "SIGINT"  # the first signal of the current stop
        # The rest is touched only by the main thread (the one that runs handlers and may install them), so no
        # lock: a handler runs between two bytecodes of that thread.
        self.installed = 0  # depth of stop_on_signals()
        self.deferring = 0  # depth of deferred_signals()
        self.pending = False  # a signal came during a deferred section and has not been raised yet


_stop = _Stop()


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


class Interrupted(KeyboardInterrupt):
    r"""A run stopped by SIGINT (Ctrl-C) or SIGTERM; ``itpm resume`` carries it on.

    A ``KeyboardInterrupt``, so that no ``except Exception`` on the way up (an observer's guard, a retry) swallows
    it. ``str()`` is what a person reads; ``exit_code`` is the shell's convention, 128 + the signal's number:

    >>> stop = Interrupted("SIGTERM", run_id="r1")
    >>> stop.exit_code, str(stop)
    (143, 'stopped by SIGTERM\n  fix: `itpm resume r1` carries the run on from where it stopped')
    """

    def __init__(self, signal_name: str, *, run_id: str = "") -> None:
        self.signal_name = signal_name
        self.run_id = run_id
        self.message = f"stopped by {signal_name}"
        self.fix = f"`itpm resume {run_id or 'RUN'}` carries the run on from where it stopped"
        super().__init__(self.message)

    @property
    def exit_code(self) -> int:
        """130 for SIGINT, 143 for SIGTERM."""
        return 128 + int(signal.Signals[self.signal_name])

    def for_run(self, run_id: str) -> Interrupted:
        """Return the same stop naming the project run to resume: ``raise stop.for_run(run_id) from stop``."""
        return Interrupted(self.signal_name, run_id=run_id)

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.fix}"

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments: pickling (a Prefect result, a multiprocessing queue) must not call
        # Interrupted(message).
        return (_rebuild, (self.signal_name, self.run_id))


def _rebuild(signal_name: str, run_id: str) -> Interrupted:
    return Interrupted(signal_name, run_id=run_id)


def stop_requested() -> bool:
    """Return True once SIGINT or SIGTERM came under ``stop_on_signals()`` (in any thread's view), raised or not."""
    return _stop.requested.is_set()


def raise_if_stop_requested(run_id: str = "") -> None:
    """Raise ``Interrupted`` (for ``run_id``) if a stop was requested; else return. For safe points in any thread."""
    if _stop.requested.is_set():
        if _in_main_thread():
            _stop.pending = False  # raised now: the end of a deferred section must not raise it again
        raise Interrupted(_stop.signal_name, run_id=run_id)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM request a stop and raise ``Interrupted``; the previous handlers after.

    The outermost block starts with no stop requested. Nesting is fine (``run_playbook`` holds one itself).
    Outside the main thread it does nothing: Python runs handlers only there, and a worker polls
    ``stop_requested()`` instead.

    >>> with stop_on_signals():
    ...     time.sleep(60)        # Ctrl-C here
    Traceback (most recent call last):
    itpm.interrupts.Interrupted: stopped by SIGINT
      fix: `itpm resume RUN` carries the run on from where it stopped
    """
    if not _in_main_thread():
        yield
        return
    if _stop.installed == 0:
        _stop.requested.clear()
        _stop.pending = False
    previous = {number: signal.getsignal(number) for number in _SIGNALS}
    for number in _SIGNALS:
        signal.signal(number, _on_signal)
    _stop.installed += 1
    try:
        yield
    finally:
        _stop.installed -= 1
        for number, handler in previous.items():
            # None: a handler not installed from Python, which cannot be put back; the default is the nearest.
            signal.signal(number, signal.SIG_DFL if handler is None else handler)


@contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold back the ``Interrupted`` of a SIGINT or SIGTERM that comes within the block until the block ends.

    Nested sections defer to the outermost one's end. If the section ends with an exception of its own, the
    ``Interrupted`` is raised in its place (the exception is its ``__context__``), unless that exception is an
    ``Interrupted`` already. Needs ``stop_on_signals()`` to mean anything, and does nothing outside the main
    thread, where no signal is ever raised.

    >>> with stop_on_signals(), deferred_signals():
    ...     signal.raise_signal(signal.SIGTERM)   # noted: stop_requested() is True, nothing raised yet
    ...     store.append(event)                   # still runs
    Traceback (most recent call last):
    itpm.interrupts.Interrupted: stopped by SIGTERM
      fix: `itpm resume RUN` carries the run on from where it stopped
    """
    if not _in_main_thread():
        yield
        return
    _stop.deferring += 1
    try:
        yield
    except Interrupted:
        _end_deferral(raising=False)
        raise
    except BaseException:
        _end_deferral(raising=True)
        raise
    _end_deferral(raising=True)


def _end_deferral(*, raising: bool) -> None:
    """Leave a deferred section; at the outermost one's end, raise the signal it held back (once)."""
    _stop.deferring -= 1
    if _stop.deferring == 0 and _stop.pending:
        _stop.pending = False
        if raising:
            raise Interrupted(_stop.signal_name)


def _on_signal(number: int, frame: FrameType | None) -> None:
    """Mark the stop; raise it now, or at the end of the deferred section the main thread is in."""
    if not _stop.requested.is_set():
        _stop.signal_name = signal.Signals(number).name
        _stop.requested.set()
    if _stop.deferring:
        _stop.pending = True
        return
    raise Interrupted(_stop.signal_name)
