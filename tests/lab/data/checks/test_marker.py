"""The marker written by tests/lab/data/playbooks/marker.yml holds ``marker_content`` from the inventory."""

from __future__ import annotations

from typing import Any

from testinfra.host import Host


def test_marker_holds_inventory_content(host: Host, host_vars: dict[str, Any]) -> None:
    marker = host.file("/etc/itpm-marker")
    assert marker.exists, "/etc/itpm-marker is missing"
    assert marker.content_string.strip() == host_vars["marker_content"], (
        f"/etc/itpm-marker holds {marker.content_string.strip()!r}, expected {host_vars['marker_content']!r}"
    )
