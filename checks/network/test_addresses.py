"""The segment address is on br-app; the service network is routed to the gateway, which owns its address."""

from __future__ import annotations

import json
from typing import Any

import pytest
from testinfra.host import Host

from checks.network import segment_of


def _bridge_addresses(host: Host, bridge: str) -> list[str]:
    shown = host.run("ip -j -4 addr show dev %s", bridge)
    links: list[dict[str, Any]] = json.loads(shown.stdout) if shown.rc == 0 and shown.stdout.strip() else []
    return [f"{a['local']}/{a['prefixlen']}" for link in links for a in link.get("addr_info", [])]


def test_segment_address_on_bridge(host: Host, host_vars: dict[str, Any], pytestconfig: pytest.Config) -> None:
    segment = segment_of(host_vars, pytestconfig)
    bridge = host_vars["netcfg_bridge"]
    expected = f"{segment.this.segment_address}/{segment.prefixlen}"
    seen = _bridge_addresses(host, bridge)
    assert expected in seen, f"{bridge} has no address {expected} (it has {seen or 'none'})"


def test_service_network_routed_or_owned(host: Host, host_vars: dict[str, Any], pytestconfig: pytest.Config) -> None:
    segment = segment_of(host_vars, pytestconfig)
    bridge = host_vars["netcfg_bridge"]
    if segment.this_is_gateway:
        seen = _bridge_addresses(host, bridge)
        expected = f"{segment.service_address}/32"
        assert expected in seen, f"the gateway's {bridge} has no service address {expected} (it has {seen or 'none'})"
        return
    shown = host.run("ip -j -4 route show exact %s", segment.service_network)
    routes: list[dict[str, Any]] = json.loads(shown.stdout) if shown.rc == 0 and shown.stdout.strip() else []
    seen_routes = [f"via {r.get('gateway')} dev {r.get('dev')}" for r in routes]
    expected_route = f"via {segment.gateway.segment_address} dev {bridge}"
    assert seen_routes == [expected_route], (
        f"route to {segment.service_network} is {seen_routes or 'missing'}, expected {expected_route}"
    )
