"""SSH key pairs for the lab: the controller's login key and one host key per lab host.

Keys are made in-process with ``cryptography`` (a paramiko dependency): 50 hosts need 50 host keys, and a
subprocess per key would cost more than the rest of booting a host. Private keys are written mode 0600.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = ["KeyPair", "ensure_key_pair", "new_key_pair", "write_private"]


@dataclass(frozen=True)
class KeyPair:
    """An ed25519 key pair in OpenSSH formats; ``public`` is one line like ``ssh-ed25519 AAAAC3Nz... comment``."""

    private: bytes
    public: str


def new_key_pair(comment: str) -> KeyPair:
    """Return a fresh ed25519 key pair whose public line ends with ``comment``."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return KeyPair(private=private, public=f"{public.decode()} {comment}")


def write_private(path: Path, data: bytes) -> None:
    """Write a secret file created with mode 0600 from the start (never briefly world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def ensure_key_pair(path: Path, comment: str) -> KeyPair:
    """Return the key pair at ``path`` (and ``path.pub``), creating it on first use."""
    public_path = path.with_name(path.name + ".pub")
    if path.exists() and public_path.exists():
        return KeyPair(private=path.read_bytes(), public=public_path.read_text().strip())
    pair = new_key_pair(comment)
    write_private(path, pair.private)
    public_path.write_text(pair.public + "\n")
    return pair
