"""Values read from files, kept for the life of one process while those files stay exactly as they were.

One run asks for the same project file and inventory several times (the CLI checks the scope, the run loads
them, the engine reloads the inventory after moving hosts), and parsing an inventory means running
``ansible-inventory``. A ``FileMemo`` answers a repeated question from memory only while every file the answer
was read from is unchanged: each entry keeps what its inputs looked like *before* they were read (``Seen``),
and a lookup compares that with the files now. A change, even one made while the value was being read, makes the
next lookup read again.

What "unchanged" means, per input:

- a file: the same inode, size, mtime and ctime (any write or ``os.replace`` changes one of them). A file changed
  in the last ``RACY_SECONDS`` is also known by a digest of its content: two writes within one tick of the file
  system's clock, of the same size, would otherwise look alike (git's "racily clean" files);
- a directory: the same of everything under it, symlinks followed, so a group_vars file added, removed or edited
  is a change;
- a path that did not exist: still absent (creating it is a change);
- a path the value only needs to exist (``presence``): it still exists (as a directory or not), or still does not.

>>> memo: FileMemo[str] = FileMemo(copy=str)
>>> memo.get("motd", lambda: ("hello", Seen.of([Path("/etc/motd")])))
'hello'
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar, cast

__all__ = ["RACY_SECONDS", "FileMemo", "Seen"]

T = TypeVar("T")

# A file changed this recently is also compared by content. 2 s is the coarsest clock of a local file system
# (FAT); ext4, xfs and tmpfs tick every few milliseconds.
RACY_SECONDS = 2.0
_RACY_NS = int(RACY_SECONDS * 1e9)

# ('file', inode, size, mtime, ctime, digest or None), ('directory', ((name, signature), ...)),
# ('presence', exists, is a directory), or None: absent.
Signature = tuple[object, ...] | None


@dataclass(frozen=True)
class Seen:
    """What a value was read from, as it was then: ``((path, whole content?, signature), ...)``."""

    inputs: tuple[tuple[str, bool, Signature], ...] = ()

    @classmethod
    def of(cls, contents: Iterable[Path] = (), presence: Iterable[Path] = ()) -> Seen:
        """Return how ``contents`` (files or directories, read whole) and ``presence`` (only exist or not) are now."""
        now = time.time_ns()
        inputs = [(str(p), True, _content_signature(p, now)) for p in dict.fromkeys(contents)]
        inputs += [(str(p), False, _presence(p)) for p in dict.fromkeys(presence)]
        return cls(tuple(inputs))

    def __add__(self, other: Seen) -> Seen:
        return Seen(self.inputs + other.inputs)

    def unchanged(self) -> bool:
        """Return whether every input still looks as it did (False as soon as one differs)."""
        now = time.time_ns()
        for name, content, signature in self.inputs:
            path = Path(name)
            if (_content_signature(path, now, signature) if content else _presence(path)) != signature:
                return False
        return True


class FileMemo(Generic[T]):
    """A per-process memo of values read from files, each kept while its inputs are unchanged.

    ``copy`` makes the copy each caller gets, so that no caller can change what another one is handed (pydantic
    models here are frozen, but their dicts are not). Safe to use from several threads; two threads missing at
    once both read, and the later one's value is kept.
    """

    def __init__(self, copy: Callable[[T], T], size: int = 16) -> None:
        self._copy = copy
        self._size = size
        self._entries: OrderedDict[Hashable, tuple[Seen, T]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, read: Callable[[], tuple[T, Seen | None]]) -> T:
        """Return a copy of the value kept for ``key`` if its inputs are unchanged; else ``read()`` it and keep it.

        ``read`` returns the value and what it was read from, taken before reading (``Seen.of(...)``), or None
        for a value that must not be kept (an inventory whose hosts come from a cloud API). Its exceptions pass
        through, and nothing is kept for them.
        """
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry[0].unchanged():
            with self._lock:
                if key in self._entries:
                    self._entries.move_to_end(key)
            return self._copy(entry[1])
        value, seen = read()
        with self._lock:
            if seen is None:
                self._entries.pop(key, None)
            else:
                self._entries[key] = (seen, self._copy(value))
                self._entries.move_to_end(key)
                while len(self._entries) > self._size:
                    self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget every value (the next ``get`` of each key reads again)."""
        with self._lock:
            self._entries.clear()


def _presence(path: Path) -> Signature:
    """Return ``('presence', exists, is a directory)`` for ``path``."""
    try:
        return ("presence", True, stat.S_ISDIR(path.stat().st_mode))
    except (OSError, ValueError):  # ValueError: a name no file can have (a NUL byte)
        return ("presence", False, False)


def _content_signature(path: Path, now_ns: int, like: Signature = None) -> Signature:
    """Return what identifies the content of ``path`` now: a file's stat, a directory's tree, None if absent.

    ``like`` is an earlier signature of it: a file known by its digest then is known by its digest now too, so
    that it compares equal once it is no longer recent.
    """
    return _signature(path, now_ns, frozenset(), like)


def _signature(path: Path, now_ns: int, visiting: frozenset[tuple[int, int]], like: Signature) -> Signature:
    try:
        info = path.stat()  # follows symlinks: what a reader of the path gets
    except (OSError, ValueError):  # absent, a dangling link, gone while we looked, or a NUL in the name
        return None
    if stat.S_ISDIR(info.st_mode):
        here = (info.st_dev, info.st_ino)
        if here in visiting:  # a symlink back up the tree: its content is already counted
            return ("loop",)
        try:
            names = sorted(os.listdir(path))
        except OSError:
            return ("unreadable directory", info.st_ino)
        earlier = _entries(like)
        entries = tuple((name, _signature(path / name, now_ns, visiting | {here}, earlier.get(name))) for name in names)
        return ("directory", entries)
    recent = max(info.st_mtime_ns, info.st_ctime_ns) > now_ns - _RACY_NS
    digested = like is not None and like[0] == "file" and like[-1] is not None
    digest = _digest(path) if recent or digested else None
    return ("file", info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns, digest)


def _entries(signature: Signature) -> dict[str, Signature]:
    """Return a directory signature's entries by name (none for any other signature)."""
    if signature is None or signature[0] != "directory":
        return {}
    return dict(cast(tuple[tuple[str, Signature], ...], signature[1]))


def _digest(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "blake2b").hexdigest()
    except OSError:
        return None
