"""A stakeholder's ``channel`` read as an address: which kind of channel, and where (maybe through a secret).

``email:cio@example.com``, ``webhook:https://hooks.example.com/itpm``, ``file:reports/stakeholders`` name the
address directly; ``email:secret:cio-address`` and ``webhook:secret:ops-webhook-url`` name a secret that holds
it, so that a project file in version control never carries a private URL or address.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from itpm.notify.secret_source import SecretSource, valid_secret_name

__all__ = ["ChannelAddress", "ChannelKind", "Destination", "parse_channel"]

_SECRET_PREFIX = "secret:"  # noqa: S105 - the marker of a secret reference, not a secret
# Deliberately simple: one mailbox, no display name, nothing a header could be split on.
_MAILBOX = re.compile(r"^[^@\s<>,;:\"]+@[^@\s<>,;:\"]+$")


class ChannelKind(StrEnum):
    """How a notice travels; the values are what the log's ``NoticeSent.channel`` records."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    FILE = "file"


@dataclass(frozen=True)
class ChannelAddress:
    """A parsed channel: ``ChannelAddress(ChannelKind.WEBHOOK, 'ops-webhook-url', secret=True)``."""

    kind: ChannelKind
    target: str  # the address itself, or the name of the secret that holds it
    secret: bool = False

    @property
    def shown(self) -> str:
        """Return how messages name this address: ``'secret:ops-webhook-url'`` or ``'cio@example.com'``."""
        return f"{_SECRET_PREFIX}{self.target}" if self.secret else self.target

    def resolve(self, secrets: SecretSource) -> Destination:
        """Return the destination, with a secret reference looked up in ``secrets``.

        Raises ValueError in plain words (naming the secret, never its value) when the secret is missing or
        does not hold an address of this kind.
        """
        if not self.secret:
            return Destination(self.kind, self.target, self.shown, secret=False)
        value = secrets.get(self.target)
        if value is None:
            raise ValueError(f"{self.kind} to {self.shown}: no secret named {self.target!r} is set")
        _check(self.kind, value, self.shown)
        return Destination(self.kind, value, self.shown, secret=True)


@dataclass(frozen=True)
class Destination:
    """Where a channel sends, resolved: the value may be a secret, so only ``shown`` goes into messages."""

    kind: ChannelKind
    value: str = field(repr=False)  # an e-mail address, a URL or a directory
    shown: str  # 'secret:cio-address' or the address itself
    secret: bool = False


def parse_channel(channel: str) -> ChannelAddress:
    """Return the address a stakeholder's ``channel`` names.

    ``parse_channel('webhook:secret:ops-webhook-url')`` is
    ``ChannelAddress(ChannelKind.WEBHOOK, 'ops-webhook-url', secret=True)``. Raises ValueError saying what is
    wrong and what is expected.
    """
    kind_text, colon, target = channel.partition(":")
    kinds = ", ".join(f"{k.value}:" for k in ChannelKind)
    if not colon or kind_text not in set(ChannelKind):
        raise ValueError(f"channel {channel!r}: start it with {kinds} (e.g. email:cio@example.com)")
    kind = ChannelKind(kind_text)
    if target.startswith(_SECRET_PREFIX):
        name = target.removeprefix(_SECRET_PREFIX)
        if not valid_secret_name(name):
            raise ValueError(
                f"channel {channel!r}: a secret name is letters, digits, dashes and underscores "
                f"(e.g. {kind.value}:secret:ops-{kind.value}-address)"
            )
        return ChannelAddress(kind, name, secret=True)
    _check(kind, target, target)
    return ChannelAddress(kind, target)


def _check(kind: ChannelKind, value: str, shown: str) -> None:
    """Raise ValueError, naming the address as ``shown`` (never a secret value), unless ``value`` fits ``kind``."""
    if kind is ChannelKind.EMAIL and not _MAILBOX.fullmatch(value):  # not `$`: it allows a trailing newline
        raise ValueError(f"email to {shown}: not an e-mail address (expected one mailbox like cio@example.com)")
    if kind is ChannelKind.WEBHOOK:
        try:
            parts = urlsplit(value)
            usable = parts.scheme in {"http", "https"} and bool(parts.hostname) and parts.port != 0
        except ValueError:  # a malformed port or IPv6 literal
            usable = False
        if not usable or any(c.isspace() for c in value):
            raise ValueError(f"webhook to {shown}: not an http:// or https:// address with a host name")
    if kind is ChannelKind.FILE and not value.strip():
        raise ValueError(f"file to {shown or '(nothing)'}: give a directory, e.g. file:reports/stakeholders")
    # A relative directory is under the repository; `..` must not lead a project file's notices out of it.
    if kind is ChannelKind.FILE and not value.startswith("/") and os.path.normpath(value).split("/")[0] == "..":
        raise ValueError(f"file to {shown}: the directory leads outside the repository; give one inside it")
