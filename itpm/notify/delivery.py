"""The outcome of telling one stakeholder: a value for the caller, and what the project log records of it."""

from __future__ import annotations

from dataclasses import dataclass

from itpm.log.events import NoticeSent
from itpm.notify.address import ChannelKind

__all__ = ["Delivery"]


@dataclass(frozen=True)
class Delivery:
    """One stakeholder's notice: sent, or why not, in plain words and without any secret.

    ``Delivery(stakeholder='Ops Channel', channel=ChannelKind.WEBHOOK, about='run_halted',
    subject='[itpm] Fleet baseline: run halted at step 'baseline', batch canary', delivered=False,
    error='webhook to hooks.example.com answered HTTP 500 Internal Server Error')``
    """

    stakeholder: str  # the stakeholder's name in the project file
    channel: ChannelKind | None  # None: the channel names no kind itpm knows (the error says so)
    about: str  # the kind of event the notice is about
    subject: str
    delivered: bool
    error: str = ""

    def to_event(
        self, *, run_id: str, project: str, step: str | None = None, batch: str | None = None
    ) -> NoticeSent | None:
        """Return the log entry of this notice; None for a channel of no kind itpm knows (the log has no word for that).

        ``delivery.to_event(run_id=event.run_id, project=event.project)`` is ``NoticeSent(run_id=...,
        stakeholder='Ops Channel', channel='webhook', about='run_halted', delivered=False, error='webhook to ...')``.
        """
        if self.channel is None:
            return None
        return NoticeSent(
            run_id=run_id,
            project=project,
            step=step,
            batch=batch,
            stakeholder=self.stakeholder,
            channel=self.channel.value,
            about=self.about,
            subject=self.subject,
            delivered=self.delivered,
            error=self.error,
        )
