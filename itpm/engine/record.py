"""A run's record: each event appended to the journal, folded into the run's state, then reacted to.

The reactions (cost booking, risk watching) are functions of the event and the state that return the events
they want logged; those are recorded in turn, in order, before ``record`` returns. The notifier then observes
every appended event; it delivers beside the run, so a dead mail relay delays no batch.

>>> record = RunRecord(journal, "r1", reactions=[watch_risks])  # doctest: +SKIP
>>> record.record(BatchFinished(...)); record.state.done("baseline")  # doctest: +SKIP
{'h1', 'h2'}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from itpm.engine.defaults import SilentNotifier
from itpm.engine.ports import Journal, Notifier
from itpm.interrupts import deferred_signals
from itpm.log.events import Event
from itpm.run_state import RunState

__all__ = ["Reaction", "RunRecord"]

# Answers an appended event, seen with the state it left, with the events to log next (usually none).
Reaction = Callable[[Event, RunState], Sequence[Event]]
E = TypeVar("E")


@dataclass
class RunRecord:
    """The run's events so far (read once from the journal), its folded state, and what reacts to new ones."""

    journal: Journal
    run_id: str
    reactions: list[Reaction] = field(default_factory=list)
    notifier: Notifier = field(default_factory=SilentNotifier)
    events: list[Event] = field(init=False)
    state: RunState = field(init=False)

    def __post_init__(self) -> None:
        self.events = self.journal.events(self.run_id)
        self.state = RunState.of(self.events)

    def record(self, entry: Event) -> None:
        """Append ``entry``, fold it in, and record what the reactions answer (oldest first)."""
        pending = [entry]
        while pending:
            event = pending.pop(0)
            with deferred_signals():  # Ctrl-C waits until the event is in the log and in the state alike
                self.journal.append(event)  # raises when the log cannot be written: the run must stop, unrecorded
                self.events.append(event)
                self.state.apply(event)
            for react in self.reactions:
                pending.extend(react(event, self.state))
            self.notifier.observe(event)

    def of_kind(self, kind: type[E]) -> list[E]:
        """Return the run's events of one class, oldest first: ``record.of_kind(StepPlanned)``."""
        return [e for e in self.events if isinstance(e, kind)]
