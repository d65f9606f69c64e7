"""Fixtures of the baseline checks (``host_vars`` comes from itpm's pytest plugin, for every check)."""

from __future__ import annotations

import pytest
from testinfra.host import Host


@pytest.fixture(scope="module")
def sshd_effective(host: Host) -> dict[str, str]:
    """Return sshd's effective settings (``sshd -T``), lowercase keys: ``{'maxauthtries': '3', ...}``."""
    output = host.check_output("/usr/sbin/sshd -T")
    settings: dict[str, str] = {}
    for line in output.splitlines():
        key, _, value = line.partition(" ")
        settings.setdefault(key.lower(), value.strip())
    return settings
