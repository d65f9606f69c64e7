"""The per-process memo of values read from files: kept while the files are unchanged, read again after any change."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from itpm.file_memo import FileMemo, Seen


class _Reader:
    """Reads ``paths`` (files or directories) into one text, counting its reads."""

    def __init__(self, *paths: Path) -> None:
        self.paths = paths
        self.reads = 0

    def __call__(self) -> tuple[list[str], Seen]:
        seen = Seen.of(self.paths)
        self.reads += 1
        return [_text(p) for p in self.paths], seen


def _text(path: Path) -> str:
    if path.is_dir():
        return ";".join(f"{f.name}={f.read_text()}" for f in sorted(path.rglob("*")) if f.is_file())
    return path.read_text() if path.exists() else "<absent>"


def _memo() -> FileMemo[list[str]]:
    return FileMemo(copy=list)


def test_an_unchanged_file_is_read_once_and_each_caller_gets_its_own_copy(tmp_path: Path) -> None:
    source = tmp_path / "hosts.yml"
    source.write_text("h1")
    memo, read = _memo(), _Reader(source)
    first = memo.get("k", read)
    first.append("changed by a caller")
    assert memo.get("k", read) == ["h1"]
    assert memo.get("k", read) == ["h1"]
    assert read.reads == 1


def test_a_rewrite_of_the_same_size_and_mtime_is_a_change(tmp_path: Path) -> None:
    source = tmp_path / "hosts.yml"
    source.write_text("h1")
    memo, read = _memo(), _Reader(source)
    memo.get("k", read)
    mtime = source.stat().st_mtime_ns
    source.write_text("h2")  # in place: same inode and size
    os.utime(source, ns=(mtime, mtime))  # and the mtime put back, as `cp -p` or a coarse clock would
    assert memo.get("k", read) == ["h2"]
    assert read.reads == 2


def test_a_replaced_file_is_a_change(tmp_path: Path) -> None:
    source = tmp_path / "hosts.yml"
    source.write_text("h1")
    memo, read = _memo(), _Reader(source)
    memo.get("k", read)
    (tmp_path / "new").write_text("h9")
    (tmp_path / "new").replace(source)  # how write_atomic (and so the engine's move_hosts) writes
    assert memo.get("k", read) == ["h9"]


def test_a_file_added_to_or_removed_from_a_directory_is_a_change(tmp_path: Path) -> None:
    group_vars = tmp_path / "group_vars" / "all"
    group_vars.mkdir(parents=True)
    (group_vars / "a.yml").write_text("x: 1")
    memo, read = _memo(), _Reader(tmp_path / "group_vars")
    memo.get("k", read)
    (group_vars / "b.yml").write_text("y: 2")
    assert memo.get("k", read) == ["a.yml=x: 1;b.yml=y: 2"]
    (group_vars / "a.yml").unlink()
    assert memo.get("k", read) == ["b.yml=y: 2"]
    assert memo.get("k", read) == ["b.yml=y: 2"]
    assert read.reads == 3


def test_a_file_behind_a_directory_symlink_is_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "a.yml").write_text("x: 1")
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "group_vars").symlink_to(elsewhere)
    (inventory / "loop").symlink_to(inventory)  # a cycle must not hang the walk
    memo, read = _memo(), _Reader(inventory / "group_vars")
    memo.get("k", read)
    (elsewhere / "a.yml").write_text("x: 2")
    assert memo.get("k", read) == ["a.yml=x: 2"]
    assert Seen.of([inventory]).unchanged()


def test_creating_a_missing_input_is_a_change(tmp_path: Path) -> None:
    missing = tmp_path / "host_vars"
    memo, read = _memo(), _Reader(missing)
    assert memo.get("k", read) == ["<absent>"]
    assert memo.get("k", read) == ["<absent>"]
    missing.mkdir()
    (missing / "h1.yml").write_text("z: 3")
    assert memo.get("k", read) == ["h1.yml=z: 3"]
    assert read.reads == 2


def test_presence_only_inputs_change_when_they_appear_or_disappear(tmp_path: Path) -> None:
    playbook = tmp_path / "site.yml"
    playbook.write_text("- hosts: all")
    seen = Seen.of(presence=[playbook])
    playbook.write_text("- hosts: web")  # its content is not what the value depends on
    assert seen.unchanged()
    playbook.unlink()
    assert not seen.unchanged()


def test_values_read_without_seen_or_with_an_error_are_not_kept(tmp_path: Path) -> None:
    memo = _memo()
    reads: list[int] = []

    def dynamic() -> tuple[list[str], Seen | None]:
        reads.append(1)
        return ["from a cloud API"], None

    memo.get("k", dynamic)
    memo.get("k", dynamic)
    assert len(reads) == 2

    def failing() -> tuple[list[str], Seen | None]:
        raise ValueError("broken")

    with pytest.raises(ValueError, match="broken"):
        memo.get("other", failing)
    read = _Reader(tmp_path / "nothing")
    memo.get("other", read)
    assert read.reads == 1


def test_a_recent_file_is_also_known_by_its_content_also_once_it_is_older(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "hosts.yml"
    source.write_text("h1")
    seen = Seen.of([source])
    signature = seen.inputs[0][2]
    assert signature is not None and signature[-1] is not None  # within the clock's tick: its digest too
    later = time.time_ns() + 10 * 10**9
    monkeypatch.setattr("itpm.file_memo.time.time_ns", lambda: later)
    assert seen.unchanged()  # a file written just before a run is not parsed twice because time passed
    settled = Seen.of([source]).inputs[0][2]
    assert settled is not None and settled[-1] is None  # older than the tick when first seen: its stat tells
    source.write_text("h2")
    assert not seen.unchanged()


def test_the_least_recently_used_entries_go_first(tmp_path: Path) -> None:
    source = tmp_path / "hosts.yml"
    source.write_text("h1")
    memo: FileMemo[list[str]] = FileMemo(copy=list, size=2)
    reads = {key: _Reader(source) for key in "abc"}
    memo.get("a", reads["a"])
    memo.get("b", reads["b"])
    memo.get("a", reads["a"])
    memo.get("c", reads["c"])  # evicts b, used longer ago than a
    memo.get("a", reads["a"])
    memo.get("b", reads["b"])
    assert (reads["a"].reads, reads["b"].reads) == (1, 2)
