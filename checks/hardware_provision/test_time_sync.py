"""chrony is configured with the time servers of ``baseline_ntp_servers`` (the file the baseline writes too)."""

from __future__ import annotations

from typing import Any

from testinfra.host import Host


def test_provisioned_chrony_lists_time_servers(host: Host, host_vars: dict[str, Any]) -> None:
    config = host.file("/etc/chrony/chrony.conf")
    assert config.exists, "/etc/chrony/chrony.conf is missing"
    sources = [
        line.split()[1] for line in config.content_string.splitlines() if line.split()[:1] in (["server"], ["pool"])
    ]
    assert sources == list(host_vars["baseline_ntp_servers"]), (
        f"chrony uses time sources {sources}, expected {host_vars['baseline_ntp_servers']}"
    )
