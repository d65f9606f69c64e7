"""A lab host's own layer: the overlay upper dir that holds its identity over the shared read-only root.

Each host gets its hostname, its hosts file, a new SSH host key, and the controller's public key for root and
the deploy account, written before it boots; the shared root (``itpm.lab.rootfs``) holds no secret, so no two
hosts share one and none can read the controller's files.

>>> prepare_host(lab_dir, record, "h3", controller_key.public).address  # doctest: +SKIP
'10.77.0.4'
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from itpm.lab import network
from itpm.lab.keys import new_key_pair, write_private
from itpm.lab.record import LabHostRecord, LabRecord

__all__ = ["prepare_host"]

_SECRET_MODE = 0o600  # written through write_private, never briefly readable by others


def prepare_host(lab_dir: Path, record: LabRecord, name: str, controller_public: str) -> LabHostRecord:
    """Make a fresh overlay upper dir holding the host's identity; return its record."""
    index = int(name[1:])
    address = network.host_address(record.subnet_index, index)
    host_dir = lab_dir / "hosts" / name
    shutil.rmtree(host_dir, ignore_errors=True)
    upper = host_dir / "upper"
    for sub in ("upper", "work", "merged"):
        (host_dir / sub).mkdir(parents=True)
    host_key = new_key_pair(name)
    files: dict[str, tuple[bytes, int, str]] = {
        "etc/hostname": (f"{name}\n".encode(), 0o644, "root"),
        "etc/hosts": (f"127.0.0.1\tlocalhost\n{address}\t{name}\n".encode(), 0o644, "root"),
        "etc/ssh/ssh_host_ed25519_key": (host_key.private, 0o600, "root"),
        "etc/ssh/ssh_host_ed25519_key.pub": ((host_key.public + "\n").encode(), 0o644, "root"),
        "root/.ssh/authorized_keys": ((controller_public + "\n").encode(), 0o600, "root"),
        "home/deploy/.ssh/authorized_keys": ((controller_public + "\n").encode(), 0o600, "deploy"),
    }
    owners = _passwd_ids(record.rootfs)
    for relative, (content, mode, owner) in files.items():
        target = upper / relative
        _make_parents_like_lower(upper, record.rootfs, Path(relative).parent, owners[owner])
        if mode == _SECRET_MODE:
            write_private(target, content)
        else:
            target.write_bytes(content)
            target.chmod(mode)
        os.chown(target, *owners[owner])
    return LabHostRecord(name=name, index=index, address=address, host_key=host_key.public)


def _make_parents_like_lower(upper: Path, lower: Path, relative: Path, owner: tuple[int, int]) -> None:
    """Create ``relative`` under ``upper`` with the mode and owner its twin has in the lower root.

    An overlay directory present in both layers takes its attributes from the upper one, so a directory
    created here with the wrong mode would change the host (sshd refuses keys under a loose ~/.ssh).
    """
    current = Path()
    for part in relative.parts:
        current /= part
        made = upper / current
        if made.exists():
            continue
        made.mkdir()
        twin = lower / current
        if twin.exists():
            stat = twin.stat()
            made.chmod(stat.st_mode & 0o7777)
            os.chown(made, stat.st_uid, stat.st_gid)
        else:  # a new ~/.ssh
            made.chmod(0o700)
            os.chown(made, *owner)


def _passwd_ids(rootfs: Path) -> dict[str, tuple[int, int]]:
    ids = {}
    for line in (rootfs / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        ids[fields[0]] = (int(fields[2]), int(fields[3]))
    return ids
