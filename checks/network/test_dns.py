"""resolv.conf names the inventory's DNS servers and search domain; /etc/hosts names every member's segment address."""

from __future__ import annotations

from typing import Any

import pytest
from testinfra.host import Host

from checks.network import segment_of


def test_resolv_conf_servers_and_search(host: Host, host_vars: dict[str, Any]) -> None:
    resolv = host.file("/etc/resolv.conf")
    assert resolv.exists, "/etc/resolv.conf is missing"
    lines = [line.split() for line in resolv.content_string.splitlines() if line.strip() and line[0] not in "#;"]
    servers = [words[1] for words in lines if words[0] == "nameserver" and len(words) > 1]
    search = [words[1:] for words in lines if words[0] in ("search", "domain")]
    assert servers == list(host_vars["netcfg_dns_servers"]), (
        f"/etc/resolv.conf uses name servers {servers}, expected {host_vars['netcfg_dns_servers']}"
    )
    assert search == [[host_vars["netcfg_domain"]]], (
        f"/etc/resolv.conf searches {search}, expected one 'search {host_vars['netcfg_domain']}' line"
    )


def test_hosts_file_names_every_member(host: Host, host_vars: dict[str, Any], pytestconfig: pytest.Config) -> None:
    domain = host_vars["netcfg_domain"]
    lines = [line.split("#")[0].split() for line in host.file("/etc/hosts").content_string.splitlines()]
    names = {name: words[0] for words in lines if len(words) > 1 for name in words[1:]}
    wrong = []
    for member in segment_of(host_vars, pytestconfig).members:
        for name in (member.fqdn(domain), f"{member.name}-app"):
            if name not in names:
                wrong.append(f"{name} is missing (expected {member.segment_address})")
            elif names[name] != member.segment_address:
                wrong.append(f"{name} is {names[name]}, expected {member.segment_address}")
    assert not wrong, "/etc/hosts: " + "; ".join(wrong)
