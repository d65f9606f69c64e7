"""Logging controls (LOG-01, LOG-02): log file permissions and log rotation.

Expected values: ``compliance_log_other_access_allowed`` and ``compliance_logrotate_min_rotations`` in
group_vars/all/compliance.yml.
"""

from __future__ import annotations

import re
from typing import Any

from testinfra.host import Host

_GLOBAL_ROTATE = re.compile(r"^\s*rotate\s+(\d+)", re.MULTILINE)


def test_log_files_not_readable_by_others(host: Host, host_vars: dict[str, Any]) -> None:
    allowed = set(host_vars["compliance_log_other_access_allowed"])
    found = host.check_output("find /var/log -type f -perm /o=rwx -printf '%p %m\\n'").splitlines()
    opened = sorted(line for line in found if line.rsplit(" ", 1)[0] not in allowed)
    assert not opened, (
        f"{len(opened)} log files are open to other users, the standard allows none "
        f"(path and mode): {', '.join(opened[:10])}{' ...' if len(opened) > 10 else ''}"
    )


def test_logrotate_installed(host: Host) -> None:
    package = host.package("logrotate")
    assert package.is_installed, "logrotate is not installed, so no log is ever rotated"


def test_logrotate_keeps_enough_rotations(host: Host, host_vars: dict[str, Any]) -> None:
    least = int(host_vars["compliance_logrotate_min_rotations"])
    config = host.file("/etc/logrotate.conf")
    first = _GLOBAL_ROTATE.search(config.content_string) if config.exists else None
    seen = int(first.group(1)) if first else 0
    assert seen >= least, (
        f"/etc/logrotate.conf keeps {seen if first else 'no'} rotated logs by default (rotate), "
        f"the standard requires at least {least}"
    )
