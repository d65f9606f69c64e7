"""The host is named by its inventory name and knows its FQDN ``<name>.<hw_domain>`` from /etc/hosts."""

from __future__ import annotations

from typing import Any

from testinfra.host import Host


def test_hostname_is_inventory_name(host: Host, host_vars: dict[str, Any]) -> None:
    name = host_vars["inventory_hostname"]
    running = host.check_output("hostname")
    assert running == name, f"the running hostname is {running!r}, expected {name!r}"
    stored = host.file("/etc/hostname").content_string.strip()
    assert stored == name, f"/etc/hostname says {stored!r}, expected {name!r} (the name a restart would give)"


def test_hosts_file_gives_fqdn(host: Host, host_vars: dict[str, Any]) -> None:
    name = host_vars["inventory_hostname"]
    fqdn = f"{name}.{host_vars['hw_domain']}"
    entries = [line.split("#")[0].split() for line in host.file("/etc/hosts").content_string.splitlines()]
    assert any(len(e) > 2 and e[1] == fqdn and name in e[2:] for e in entries), (
        f"/etc/hosts has no line naming {fqdn} first and then {name}"
    )
    # The first name on the first line that names the host is what resolvers take for its FQDN.
    seen = host.run("hostname -f").stdout.strip()
    assert seen == fqdn, f"hostname -f says {seen!r}, expected {fqdn!r}"
