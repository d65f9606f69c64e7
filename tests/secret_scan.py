"""Looking for a secret in what itpm wrote: in files byte for byte, in text, and in the encodings that hide it.

A secret can hide in base64 (a pickled or encoded payload, an Authorization header) where a plain search misses
it: inside longer base64 text its characters depend on its offset, so each of the three alignments is searched,
keeping only the characters that depend on the secret alone.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Hit", "SecretForms", "scan_bytes", "scan_paths"]


@dataclass(frozen=True)
class Hit:
    """One secret found: ``Hit(where='state/runs/.../command', secret='webhook token', form='plain')``."""

    where: str
    secret: str
    form: str


class SecretForms:
    """Each named secret and the byte strings that betray it (plain, hex, base64 and URL-safe base64 at 3 offsets).

    >>> len(SecretForms({"token": "0123456789abcdef"}))  # plain, hex, and 2 x 3 base64
    8
    """

    def __init__(self, secrets: Mapping[str, str]) -> None:
        self.forms: dict[str, dict[str, bytes]] = {name: _forms(value) for name, value in secrets.items()}

    def __len__(self) -> int:
        return sum(len(forms) for forms in self.forms.values())


def _forms(secret: str) -> dict[str, bytes]:
    raw = secret.encode()
    found = {"plain": raw, "hex": raw.hex().encode()}
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw)
        # Characters that cover only bits of the secret: after the padding bytes, before whatever follows it.
        start, end = -(-4 * offset // 3), 4 * (offset + len(raw)) // 3
        found[f"base64+{offset}"] = encoded[start:end]
        found[f"urlsafe-base64+{offset}"] = encoded[start:end].replace(b"+", b"-").replace(b"/", b"_")
    return found


def scan_bytes(where: str, data: bytes, secrets: SecretForms) -> list[Hit]:
    """Return every secret (and in which form) that ``data`` holds; ``where`` names it in the hits."""
    return [
        Hit(where, name, form)
        for name, forms in secrets.forms.items()
        for form, value in forms.items()
        if value in data
    ]


def scan_paths(roots: Iterable[Path], secrets: SecretForms) -> tuple[list[Hit], int, int]:
    """Search every regular file under ``roots`` (not following links); return the hits, files and bytes searched."""
    hits: list[Hit] = []
    files = size = 0
    for root in roots:
        for path in sorted([root] if root.is_file() else root.rglob("*")):
            if path.is_symlink() or not path.is_file():
                continue
            try:
                data = path.read_bytes()
            except FileNotFoundError:  # a file removed while the walk ran (a lock, a journal)
                continue
            files += 1
            size += len(data)
            hits += scan_bytes(str(path), data, secrets)
    return hits, files, size
