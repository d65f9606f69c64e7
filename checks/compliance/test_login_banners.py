"""Banner controls (BANNER-01, BANNER-02): the baseline's warning text before SSH and console logins.

Expected text: ``baseline_banner`` (group_vars/all/baseline.yml), the banner the baseline also installs.
"""

from __future__ import annotations

import re
from typing import Any

from testinfra.host import Host

# agetty replaces these in /etc/issue with the OS name, release, version and machine type.
_OS_ESCAPES = re.compile(r"\\[srvm]")


def test_ssh_banner_text(host: Host, host_vars: dict[str, Any]) -> None:
    banner = host.file("/etc/issue.net")
    text = banner.content_string if banner.exists else ""
    assert host_vars["baseline_banner"].strip() in text, (
        "/etc/issue.net does not hold the warning banner (baseline_banner); "
        f"it starts with {text.strip()[:60] or 'nothing'!r}"
    )


def test_ssh_banner_enabled(sshd_effective: dict[str, str]) -> None:
    assert sshd_effective.get("banner") == "/etc/issue.net", (
        f"sshd shows banner {sshd_effective.get('banner')!r} before login, the standard requires '/etc/issue.net'"
    )


def test_console_banner_text(host: Host, host_vars: dict[str, Any]) -> None:
    issue = host.file("/etc/issue")
    text = issue.content_string if issue.exists else ""
    assert host_vars["baseline_banner"].strip() in text, (
        "/etc/issue does not hold the warning banner (baseline_banner); "
        f"it starts with {text.strip()[:60] or 'nothing'!r}"
    )


def test_console_banner_hides_os_version(host: Host) -> None:
    issue = host.file("/etc/issue")
    text = issue.content_string if issue.exists else ""
    os_release = dict(
        line.split("=", 1) for line in host.file("/etc/os-release").content_string.splitlines() if "=" in line
    )
    os_name = os_release.get("NAME", "").strip('"').split(" ")[0]
    shown = sorted(set(_OS_ESCAPES.findall(text)))
    if os_name and os_name.lower() in text.lower():
        shown.insert(0, repr(os_name))
    assert not shown, f"/etc/issue shows the OS name or version to anyone at the console ({' '.join(shown)})"
