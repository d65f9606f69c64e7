"""File drop: the message as Markdown and JSON in a directory, for a wiki, a shared drive or a later upload."""

from __future__ import annotations

import json
import re
from datetime import UTC
from pathlib import Path

from itpm.atomic_file import write_atomic
from itpm.notify.address import Destination
from itpm.notify.channels.base import DeliveryFailed
from itpm.notify.message import Message
from itpm.notify.secret_source import SecretSource

__all__ = ["FileDropChannel"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class FileDropChannel:
    """Writes ``<dir>/<UTC timestamp>-<run id>-<event kind>.md`` and ``.json``; ``dir`` is relative to ``base_dir``."""

    def __init__(self, base_dir: Path) -> None:
        self._base_dir = base_dir

    def send(self, to: Destination, message: Message, secrets: SecretSource) -> None:
        """Write both files atomically (a file drop needs no secret); raise DeliveryFailed naming the directory."""
        directory = self._base_dir / to.value
        where = f"file drop in {to.shown if to.secret else directory}"
        # Microseconds: two phases may be entered within one second, and each notice needs its own files.
        stamp = message.at.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        stem = f"{stamp}-{_UNSAFE.sub('-', message.run_id)}-{_UNSAFE.sub('-', message.about)}"
        try:
            write_atomic(directory / f"{stem}.md", message.markdown)
            write_atomic(directory / f"{stem}.json", json.dumps(message.data, indent=2, ensure_ascii=False) + "\n")
        except OSError as error:
            raise DeliveryFailed(f"{where}: cannot write there ({error.strerror or error})") from None
