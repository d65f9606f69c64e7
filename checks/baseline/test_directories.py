"""The service directory tree of ``baseline_directories`` exists with its owners and modes."""

from __future__ import annotations

from typing import Any

from testinfra.host import Host


def test_directory_tree(host: Host, host_vars: dict[str, Any]) -> None:
    problems = []
    for wanted in host_vars["baseline_directories"]:
        found = host.file(wanted["path"])
        if not found.is_directory:
            problems.append(f"{wanted['path']} is missing")
            continue
        expected = (wanted["owner"], wanted["group"], int(wanted["mode"], 8))
        actual = (found.user, found.group, found.mode)
        if actual != expected:
            problems.append(
                f"{wanted['path']} is {actual[0]}:{actual[1]} {actual[2]:o}, "
                f"expected {expected[0]}:{expected[1]} {expected[2]:o}"
            )
    assert not problems, "; ".join(problems)
