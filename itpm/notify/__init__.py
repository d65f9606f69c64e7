"""Stakeholder notifications: who hears about an event, what they read, and how it reaches them.

The data flow, one module each::

    log event ──categories──▶ Notice category ──▶ stakeholders who want it (project file)
    log event + Briefing ──message──▶ Message (subject, text, Markdown, JSON)
    stakeholder channel ──address──▶ Destination (secret references resolved through a SecretSource)
    Destination + Message ──channels/{smtp,webhook,file_drop}──▶ sent, or DeliveryFailed in plain words
    dispatch.notify ──▶ one Delivery per stakeholder; Delivery.to_event() ──▶ the log's NoticeSent

Nothing here imports Prefect and nothing here raises into a rollout: ``notify`` returns failures as values.
"""

from __future__ import annotations

from itpm.notify.address import ChannelKind, Destination, parse_channel
from itpm.notify.briefing import Briefing
from itpm.notify.categories import notice_for
from itpm.notify.delivery import Delivery
from itpm.notify.dispatch import notify
from itpm.notify.message import Message, compose
from itpm.notify.secret_source import EnvironmentSecrets, SecretSource

__all__ = [
    "Briefing",
    "ChannelKind",
    "Delivery",
    "Destination",
    "EnvironmentSecrets",
    "Message",
    "SecretSource",
    "compose",
    "notice_for",
    "notify",
    "parse_channel",
]
