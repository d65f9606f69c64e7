"""chrony is configured with exactly the time servers the inventory names."""

from __future__ import annotations

from typing import Any

from testinfra.host import Host


def test_time_servers_from_inventory(host: Host, host_vars: dict[str, Any]) -> None:
    config = host.file("/etc/chrony/chrony.conf")
    assert config.exists, "/etc/chrony/chrony.conf is missing"
    sources = [
        line.split()[1] for line in config.content_string.splitlines() if line.split()[:1] in (["server"], ["pool"])
    ]
    assert sources == list(host_vars["baseline_ntp_servers"]), (
        f"chrony uses time sources {sources}, expected {host_vars['baseline_ntp_servers']}"
    )
