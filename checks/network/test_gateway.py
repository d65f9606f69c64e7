"""From this host, the gateway answers on the segment: ping, the service address, SSH; its probe ports drop.

On the gateway itself the same checks look at what it owns: its own addresses answer over lo, which the
firewall accepts by design, so there the blocked ports are checked in the loaded rules; network_mesh sees the
drop from the other members.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from testinfra.host import Host

from checks.network import NFT_TABLE, firewall_of, ping, probe_tcp, segment_of


def test_gateway_answers_ping_on_segment(host: Host, host_vars: dict[str, Any], pytestconfig: pytest.Config) -> None:
    gateway = segment_of(host_vars, pytestconfig).gateway
    assert ping(host, gateway.segment_address), (
        f"gateway {gateway.name} does not answer ping on its segment address {gateway.segment_address}"
    )


def test_service_address_answers_via_gateway(
    host: Host, host_vars: dict[str, Any], pytestconfig: pytest.Config
) -> None:
    segment = segment_of(host_vars, pytestconfig)
    address = segment.service_address
    shown = host.run("ip -j -4 route get %s", address)
    routes: list[dict[str, Any]] = json.loads(shown.stdout) if shown.rc == 0 else []
    # ip leaves out "type" for unicast routes.
    path = (
        {"type": routes[0].get("type", "unicast"), "gateway": routes[0].get("gateway"), "dev": routes[0].get("dev")}
        if routes
        else {}
    )
    if segment.this_is_gateway:
        expected = {"type": "local", "gateway": None, "dev": "lo"}
    else:
        expected = {"type": "unicast", "gateway": segment.gateway.segment_address, "dev": host_vars["netcfg_bridge"]}
    assert path == expected, f"service address {address} is reached by {path or 'no route'}, expected {expected}"
    assert ping(host, address), f"service address {address} does not answer ping"


def test_gateway_ssh_answers_on_segment(host: Host, host_vars: dict[str, Any], pytestconfig: pytest.Config) -> None:
    gateway = segment_of(host_vars, pytestconfig).gateway
    target = f"{gateway.segment_address}:22"
    outcome = probe_tcp(host, [(gateway.segment_address, 22)])[target]
    assert outcome == "open", f"tcp {target} on gateway {gateway.name} is {outcome}, expected open"


def test_gateway_probe_ports_dropped(host: Host, host_vars: dict[str, Any], pytestconfig: pytest.Config) -> None:
    segment = segment_of(host_vars, pytestconfig)
    ports = list(host_vars["netcfg_probe_blocked_tcp_ports"])
    if segment.this_is_gateway:
        firewall = firewall_of(host)
        open_ports = [p for p in ports if p in firewall.accepted("tcp dport")]
        assert firewall.policy == "drop" and not open_ports, (
            f"gateway's inet {NFT_TABLE} does not drop tcp ports {open_ports or ports} "
            f"(policy {firewall.policy}, accepted {firewall.accepted('tcp dport')})"
        )
        return
    address = segment.gateway.segment_address
    outcomes = probe_tcp(host, [(address, port) for port in ports])
    wrong = {target: outcome for target, outcome in outcomes.items() if outcome != "timeout"}
    assert not wrong, f"ports on gateway {segment.gateway.name} that must be dropped did not time out: {wrong}"
