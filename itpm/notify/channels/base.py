"""The one small interface every notification channel implements, and the failure it reports."""

from __future__ import annotations

from typing import Protocol

from itpm.errors import ItpmError
from itpm.notify.address import Destination
from itpm.notify.message import Message
from itpm.notify.secret_source import SecretSource

__all__ = ["Channel", "DeliveryFailed"]


class DeliveryFailed(ItpmError):
    """A channel could not deliver a notice.

    The message names the channel, where it tried (host and port, or directory; a secret address only by its
    reference) and what failed: ``webhook to hooks.example.com answered HTTP 500 Internal Server Error``.
    """


class Channel(Protocol):
    """Sends a message to one destination of its kind.

    Credentials come from ``secrets`` at each send, never from the project file or the channel's construction:
    the dispatcher hands every channel the same source, and so knows every secret value it must keep out of
    the errors it returns.
    """

    def send(self, to: Destination, message: Message, secrets: SecretSource) -> None:
        """Deliver ``message`` to ``to``; return nothing, or raise DeliveryFailed saying what failed."""
        ...
