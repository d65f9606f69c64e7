"""From this host, every other member answers on the segment by its name: ping, SSH, and its probe ports drop."""

from __future__ import annotations

from typing import Any

import pytest
from testinfra.host import Host

from checks.network import ping, probe_tcp, segment_of


def test_every_member_answers_ping_on_segment(
    host: Host, host_vars: dict[str, Any], pytestconfig: pytest.Config
) -> None:
    silent = [
        f"{m.name} ({m.segment_address})"
        for m in segment_of(host_vars, pytestconfig).peers
        if not ping(host, m.segment_address)
    ]
    assert not silent, f"no answer to ping on the segment from {', '.join(silent)}"


def test_every_member_name_resolves_to_segment_address(
    host: Host, host_vars: dict[str, Any], pytestconfig: pytest.Config
) -> None:
    wrong = []
    for member in segment_of(host_vars, pytestconfig).peers:
        for name in (member.fqdn(host_vars["netcfg_domain"]), f"{member.name}-app"):
            # ahosts resolves as applications do (getaddrinfo); `getent hosts` asks for IPv6 first, so a name
            # with only an IPv4 line in /etc/hosts would wait for the DNS servers before falling back.
            answer = host.run("getent ahosts %s", name)
            seen = answer.stdout.split()[0] if answer.rc == 0 and answer.stdout.strip() else "nothing"
            if seen != member.segment_address:
                wrong.append(f"{name} resolves to {seen}, expected {member.segment_address}")
    assert not wrong, "; ".join(wrong)


def test_every_member_ssh_answers_by_name(host: Host, host_vars: dict[str, Any], pytestconfig: pytest.Config) -> None:
    domain = host_vars["netcfg_domain"]
    outcomes = probe_tcp(host, [(m.fqdn(domain), 22) for m in segment_of(host_vars, pytestconfig).peers])
    closed = {target: outcome for target, outcome in outcomes.items() if outcome != "open"}
    assert not closed, f"SSH does not answer on the segment: {closed}"


def test_every_member_drops_probe_ports(host: Host, host_vars: dict[str, Any], pytestconfig: pytest.Config) -> None:
    domain = host_vars["netcfg_domain"]
    ports = list(host_vars["netcfg_probe_blocked_tcp_ports"])
    peers = segment_of(host_vars, pytestconfig).peers
    outcomes = probe_tcp(host, [(m.fqdn(domain), port) for m in peers for port in ports])
    wrong = {target: outcome for target, outcome in outcomes.items() if outcome != "timeout"}
    assert not wrong, f"ports that must be dropped did not time out: {wrong}"
