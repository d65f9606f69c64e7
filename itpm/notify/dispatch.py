"""Tell every stakeholder who wants to hear about an event, each through their channel; never raise.

Notification trouble must never break a rollout: every failure (a relay down, a missing secret, a typo in a
channel, even a bug) comes back as a ``Delivery`` with ``delivered=False`` and an error in plain words.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from itpm.log.events import Event
from itpm.models.project import Project, Stakeholder
from itpm.notify.address import ChannelKind, parse_channel
from itpm.notify.briefing import Briefing
from itpm.notify.categories import Notifiable, notice_for
from itpm.notify.channels.base import Channel, DeliveryFailed
from itpm.notify.channels.file_drop import FileDropChannel
from itpm.notify.channels.smtp import EmailChannel
from itpm.notify.channels.webhook import WebhookChannel
from itpm.notify.delivery import Delivery
from itpm.notify.message import Message, compose
from itpm.notify.secret_source import EnvironmentSecrets, SecretSource

__all__ = ["default_channels", "notify"]

_REDACTED = "[secret]"


def default_channels(base_dir: Path) -> dict[ChannelKind, Channel]:
    """Return the real channels: SMTP from ``ITPM_SMTP_*``, webhooks, file drops under ``base_dir``."""
    return {
        ChannelKind.EMAIL: EmailChannel(),
        ChannelKind.WEBHOOK: WebhookChannel(),
        ChannelKind.FILE: FileDropChannel(base_dir),
    }


def notify(
    project: Project,
    event: Event,
    briefing: Briefing,
    *,
    secrets: SecretSource | None = None,
    base_dir: Path,
    channels: Mapping[ChannelKind, Channel] | None = None,
) -> list[Delivery]:
    """Send ``event`` to each stakeholder of ``project`` who wants its category; return one Delivery each.

    ``secrets`` defaults to the environment; ``base_dir`` is the repository root that ``file:`` channels are
    relative to; ``channels`` replaces the real ones (tests). Stakeholders without a channel, and events that
    notify nobody, give no Delivery. Returns e.g. ``[Delivery(stakeholder='Casey CIO', channel=ChannelKind.FILE,
    about='run_finished', subject='[itpm] Fleet baseline: run completed', delivered=True, error='')]``.
    """
    category = notice_for(event)
    if category is None or not isinstance(event, Notifiable):
        return []
    audience = [s for s in project.stakeholders if s.channel and category in s.wants]
    if not audience:
        return []
    remembered = _Remembering(secrets if secrets is not None else EnvironmentSecrets())
    try:
        message = compose(project, event, briefing)
    except Exception as error:  # a bug in the wording must not stop the rollout: each Delivery reports it instead
        problem = f"itpm could not compose the notice ({type(error).__name__}: {error})"
        return [_failed(s, _kind_of(s.channel), event.kind, "", problem) for s in audience]
    routes = channels if channels is not None else default_channels(base_dir)
    return [_tell(stakeholder, message, routes, remembered) for stakeholder in audience]


def _tell(
    stakeholder: Stakeholder, message: Message, channels: Mapping[ChannelKind, Channel], secrets: _Remembering
) -> Delivery:
    """Return the outcome of sending ``message`` to one stakeholder, with any secret scrubbed from the error."""
    assert stakeholder.channel is not None  # notify() chose only stakeholders with a channel
    kind: ChannelKind | None = None
    try:
        address = parse_channel(stakeholder.channel)
        kind = address.kind
        destination = address.resolve(secrets)
        channel = channels.get(kind)
        if channel is None:
            raise DeliveryFailed(f"{kind} to {address.shown}: no {kind} channel is set up in this process")
        channel.send(destination, message, secrets)
    except (ValueError, DeliveryFailed) as error:
        return _failed(stakeholder, kind, message.about, message.subject, secrets.scrub(str(error)))
    except Exception as error:  # whatever a channel does wrong, the rollout goes on
        unexpected = f"{kind or 'notice'} to {stakeholder.name} failed unexpectedly: {type(error).__name__}: {error}"
        return _failed(stakeholder, kind, message.about, message.subject, secrets.scrub(unexpected))
    return Delivery(stakeholder.name, kind, message.about, message.subject, delivered=True)


def _kind_of(channel: str | None) -> ChannelKind | None:
    try:
        return parse_channel(channel or "").kind
    except ValueError:
        return None


def _failed(stakeholder: Stakeholder, kind: ChannelKind | None, about: str, subject: str, error: str) -> Delivery:
    return Delivery(stakeholder.name, kind, about, subject, delivered=False, error=error)


class _Remembering:
    """A SecretSource that asks its source once per name and remembers the values, to scrub them from errors.

    Errors quote servers and libraries (a relay echoing a login, a URL in an exception); whatever they say, no
    value this source handed out survives into a Delivery.
    """

    def __init__(self, source: SecretSource) -> None:
        self._source = source
        self._values: dict[str, str | None] = {}

    def get(self, name: str) -> str | None:
        """Return the source's value for ``name`` (None when missing, or when the source itself fails)."""
        if name not in self._values:
            try:
                self._values[name] = self._source.get(name)
            except Exception:  # a broken source reads as a missing secret, and the error then names the secret
                self._values[name] = None
        return self._values[name]

    def scrub(self, text: str) -> str:
        """Return ``text`` with every secret value handed out replaced by ``[secret]``."""
        for value in sorted((v for v in self._values.values() if v), key=len, reverse=True):
            text = text.replace(value, _REDACTED)
        return text

    def __repr__(self) -> str:
        return f"_Remembering({self._source!r})"  # never the values
