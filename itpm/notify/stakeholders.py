"""Stakeholder notices delivered beside the run: queued as events are recorded, sent by a thread of their own.

A notice needs a briefing (the PM view at that moment) and a delivery that may wait on a dead mail relay for its
whole timeout. Neither belongs between two batches, so ``observe`` only takes a snapshot of the run's events and
queues it; the delivery thread builds the briefing from the snapshot and sends. Each delivery, or failure, is
logged (``NoticeSent``) by that thread. ``close`` waits a bounded time for the queue to empty and logs every notice
still waiting as not delivered, saying so, the one still being sent included: a run ends on time, and the log
still says who may not have been told (should that send return later, its outcome is logged too).

    notifier = StakeholderNotifier(project, run_id, events=record.events.copy, record=log.append, base_dir=repo)
    notifier.observe(batch_finished)   # returns at once
    notifier.close(timeout_s=30)       # after RunFinished: deliver the rest, or log why not
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from itpm.log.events import Event, NoticeSent, RunStarted
from itpm.models.project import Project, Stakeholder
from itpm.notify.address import ChannelKind, parse_channel
from itpm.notify.categories import notice_for
from itpm.notify.channels.base import Channel
from itpm.notify.dispatch import notify
from itpm.notify.secret_source import SecretSource
from itpm.reports.briefing import briefing_of
from itpm.reports.project_view import project_view

__all__ = ["StakeholderNotifier"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Pending:
    """A notice to send: the event it is about and the run's events up to it (the briefing's source)."""

    entry: Event
    events: tuple[Event, ...]


class StakeholderNotifier:
    """Tells the project's stakeholders about the events they want, from a thread beside the run (a ``Notifier``)."""

    def __init__(
        self,
        project: Project,
        run_id: str,
        *,
        events: Callable[[], Sequence[Event]],
        record: Callable[[Event], object],
        base_dir: Path,
        secrets: SecretSource | None = None,
        links: Sequence[str] = (),
        prior_spend: Decimal = Decimal(0),
        channels: Mapping[ChannelKind, Channel] | None = None,
    ) -> None:
        self.project = project
        self.run_id = run_id
        self._events = events
        self._record = record
        self._base_dir = base_dir
        self._secrets = secrets
        self._links = [*links, f"itpm status {run_id}"]
        self._prior_spend = prior_spend
        self._channels = channels
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._sending: _Pending | None = None  # the notice the thread is sending right now
        self._dry_run = False

    def observe(self, entry: Event) -> None:
        """Queue a notice about ``entry`` if anyone wants one; returns at once."""
        if isinstance(entry, RunStarted):
            self._dry_run = entry.dry_run
        # A dry run changes nothing, so nobody outside the team needs to hear of it.
        if self._dry_run or not self._audience(entry):
            return
        if self._thread is None:
            # A daemon: a relay that hangs past close() must not keep the process alive after the run ended.
            self._thread = threading.Thread(
                target=self._deliver_all, args=(self._queue,), name=f"notices {self.run_id}", daemon=True
            )
            self._thread.start()
        self._queue.put(_Pending(entry, tuple(self._events())))

    def close(self, timeout_s: float) -> None:
        """Deliver what is queued within ``timeout_s``; log each notice still waiting then as not delivered."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout_s)
        sending = self._sending if self._thread.is_alive() else None
        if sending is not None:
            self._log_undelivered(sending.entry, f"not confirmed: still being sent {timeout_s:g} s after the run ended")
        while True:
            try:
                pending = self._queue.get_nowait()
            except queue.Empty:
                break
            if pending is not None:
                self._log_undelivered(pending.entry, f"not sent: still queued {timeout_s:g} s after the run ended")
        if self._thread.is_alive():
            # Its end was taken out with the rest: it ends once its send returns. Notices observed after this
            # get a queue (and a thread) of their own, which the stuck one cannot take them from.
            self._queue.put(None)
            self._queue = queue.Queue()
        self._thread = None

    def _audience(self, entry: Event) -> list[Stakeholder]:
        category = notice_for(entry)
        if category is None:
            return []
        return [s for s in self.project.stakeholders if s.channel and category in s.wants]

    def _deliver_all(self, notices: queue.Queue[_Pending | None]) -> None:
        while (pending := notices.get()) is not None:
            self._sending = pending
            try:
                self._deliver(pending)
            except Exception as error:  # a bug here must cost a notice, not the run: logged as undelivered
                log.exception("notice about %s failed", pending.entry.kind)
                self._log_undelivered(pending.entry, f"itpm could not send it ({type(error).__name__}: {error})")
            finally:
                self._sending = None

    def _deliver(self, pending: _Pending) -> None:
        entry = pending.entry
        view = project_view(self.project, pending.events, as_of=entry.at, prior_spend=self._prior_spend)
        deliveries = notify(
            self.project,
            entry,
            briefing_of(view, links=self._links),
            secrets=self._secrets,
            base_dir=self._base_dir,
            channels=self._channels,
        )
        for delivery in deliveries:
            sent = delivery.to_event(run_id=self.run_id, project=self.project.name, step=entry.step, batch=entry.batch)
            if sent is not None:
                self._record(sent)

    def _log_undelivered(self, entry: Event, error: str) -> None:
        for stakeholder in self._audience(entry):
            try:
                kind = parse_channel(stakeholder.channel or "").kind
            except ValueError:  # a channel of no known kind has no word in the log (notify skips it too)
                log.warning("notice to %s not logged: %s has no known kind", stakeholder.name, stakeholder.channel)
                continue
            self._record_quietly(
                NoticeSent(
                    run_id=self.run_id,
                    project=self.project.name,
                    step=entry.step,
                    batch=entry.batch,
                    stakeholder=stakeholder.name,
                    channel=kind.value,
                    about=entry.kind,
                    subject="",
                    delivered=False,
                    error=error,
                )
            )

    def _record_quietly(self, entry: NoticeSent) -> None:
        """Log ``entry``; a log that cannot be written now costs this record, not the run's own error or end."""
        try:
            self._record(entry)
        except Exception:  # the log's own error says why; the run that owns the log reports it where it matters
            log.exception("could not log that %s was not told about %s", entry.stakeholder, entry.about)
