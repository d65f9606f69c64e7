"""File permission controls (SSH-06, FILE-01..04): owners and the most permissive mode each path may have.

Expected values: the ``compliance_*_files`` lists and ``compliance_sticky_dirs`` in group_vars/all/compliance.yml.
"""

from __future__ import annotations

from typing import Any

from testinfra.host import Host


def _mode_problems(host: Host, wanted_files: list[dict[str, str]], *, optional: bool = False) -> list[str]:
    """Return one sentence per path whose owner or group differs or whose mode has a bit the allowed lacks."""
    problems = []
    for wanted in wanted_files:
        found = host.file(wanted["path"])
        if not found.exists:
            if not optional:
                problems.append(f"{wanted['path']} is missing")
            continue
        allowed = int(wanted["mode"], 8)
        if (found.user, found.group) != (wanted["owner"], wanted["group"]) or found.mode & ~allowed:
            problems.append(
                f"{wanted['path']} is {found.user}:{found.group} {found.mode:04o}, "
                f"the standard requires {wanted['owner']}:{wanted['group']} and at most {allowed:04o}"
            )
    return problems


def test_sshd_config_permissions(host: Host, host_vars: dict[str, Any]) -> None:
    problems = _mode_problems(host, host_vars["compliance_sshd_config_files"])
    assert not problems, "; ".join(problems)


def test_shadow_files_permissions(host: Host, host_vars: dict[str, Any]) -> None:
    problems = _mode_problems(host, host_vars["compliance_shadow_files"])
    assert not problems, "; ".join(problems)


def test_account_files_permissions(host: Host, host_vars: dict[str, Any]) -> None:
    problems = _mode_problems(host, host_vars["compliance_account_files"])
    assert not problems, "; ".join(problems)


def test_cron_files_permissions(host: Host, host_vars: dict[str, Any]) -> None:
    # cron is optional on a server: only the tables and directories present are held to the standard.
    problems = _mode_problems(host, host_vars["compliance_cron_files"], optional=True)
    assert not problems, "; ".join(problems)


def test_world_writable_dirs_sticky(host: Host, host_vars: dict[str, Any]) -> None:
    problems = []
    for path in host_vars["compliance_sticky_dirs"]:
        found = host.file(path)
        if found.is_directory and found.mode & 0o002 and not found.mode & 0o1000:
            problems.append(f"{path} is world-writable ({found.mode:04o}) without the sticky bit")
    assert not problems, "; ".join(problems)
