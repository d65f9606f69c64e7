"""Fixtures every check shares: the host's inventory variables and sshd's effective configuration."""

from __future__ import annotations

from typing import Any

import pytest
from testinfra.host import Host


@pytest.fixture(scope="module")
def host_vars(host: Host) -> dict[str, Any]:
    """Return the host's inventory variables: the expected values checks compare the host against."""
    variables: dict[str, Any] = host.ansible.get_variables()
    return variables


@pytest.fixture(scope="module")
def sshd_effective(host: Host) -> dict[str, str]:
    """Return sshd's effective settings (``sshd -T``), lowercase keys: ``{'maxauthtries': '3', ...}``."""
    output = host.check_output("/usr/sbin/sshd -T")
    settings: dict[str, str] = {}
    for line in output.splitlines():
        key, _, value = line.partition(" ")
        settings.setdefault(key.lower(), value.strip())
    return settings
