"""The login banner from ``baseline_banner`` is in place and shown by sshd before login."""

from __future__ import annotations

from typing import Any

from testinfra.host import Host


def test_banner_file_holds_inventory_text(host: Host, host_vars: dict[str, Any]) -> None:
    banner = host.file("/etc/issue.net")
    assert banner.exists, "login banner /etc/issue.net is missing"
    assert host_vars["baseline_banner"].strip() in banner.content_string, (
        "/etc/issue.net does not hold baseline_banner from the inventory"
    )
    assert (banner.user, banner.group, banner.mode) == ("root", "root", 0o644), (
        f"/etc/issue.net is {banner.user}:{banner.group} {banner.mode:o}, expected root:root 644"
    )


def test_sshd_shows_banner(sshd_effective: dict[str, str]) -> None:
    assert sshd_effective.get("banner") == "/etc/issue.net", (
        f"sshd banner is {sshd_effective.get('banner')!r}, expected '/etc/issue.net'"
    )
