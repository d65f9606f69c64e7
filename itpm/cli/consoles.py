"""The two terminals every command writes to: ``out`` for results, ``err`` for progress, warnings and errors.

Commands reach them as ``consoles.out`` and ``consoles.err`` (not imported by name), so that a test swaps both
in one place and sees everything any command prints.
"""

from __future__ import annotations

import re

from rich.console import Console

__all__ = ["err", "out", "printable"]

out = Console()
err = Console(stderr=True)

# Control characters other than newline and tab: a value quoted in a message must not drive the terminal.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    r"""Return ``text`` with control characters spelt as escapes: ``printable('a\x1b[2J') == 'a\\x1b[2J'``."""
    return _CONTROL_CHARACTERS.sub(lambda found: f"\\x{ord(found[0]):02x}", text)
