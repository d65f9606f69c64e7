"""netcfg's own nftables table is loaded with input policy drop, accepting only what the inventory allows.

That is lo, replies, ICMP, the allowed TCP ports, and VXLAN from the members' lab addresses.
"""

from __future__ import annotations

from typing import Any

import pytest
from testinfra.host import Host

from checks.network import NFT_TABLE, firewall_of, segment_of

# The accept rules besides the allowed ports and VXLAN, as nft lists them.
_BASE_ACCEPTS = [
    {"meta iif": ["lo"]},
    {"ct state": ["established", "related"]},
    {"meta l4proto": ["icmp", "ipv6-icmp"]},
]


def test_firewall_input_policy_drop(host: Host) -> None:
    firewall = firewall_of(host)
    assert firewall.policy is not None, f"nftables table inet {NFT_TABLE} with an input chain is not loaded"
    assert firewall.policy == "drop", f"input chain of inet {NFT_TABLE} has policy {firewall.policy}, expected drop"


def test_firewall_accepts_allowed_tcp_ports(host: Host, host_vars: dict[str, Any]) -> None:
    expected = sorted(host_vars["netcfg_allowed_tcp_ports"])
    seen = firewall_of(host).accepted("tcp dport")
    assert seen == expected, f"inet {NFT_TABLE} accepts tcp ports {seen or 'none'}, expected {expected}"


def test_firewall_accepts_vxlan_from_members_only(
    host: Host, host_vars: dict[str, Any], pytestconfig: pytest.Config
) -> None:
    expected = sorted(m.lab_address for m in segment_of(host_vars, pytestconfig).members)
    port = host_vars["netcfg_vxlan_port"]
    rules = [r for r in firewall_of(host).accepts if r.get("udp dport") == [port]]
    seen = [r.get("ip saddr", "any address") for r in rules]
    assert seen == [expected], f"inet {NFT_TABLE} accepts udp {port} from {seen or 'nobody'}, expected {expected}"


def test_firewall_accepts_nothing_else(host: Host, host_vars: dict[str, Any]) -> None:
    firewall = firewall_of(host)
    assert firewall.policy is not None, f"nftables table inet {NFT_TABLE} with an input chain is not loaded"
    port = host_vars["netcfg_vxlan_port"]
    missing = [rule for rule in _BASE_ACCEPTS if rule not in firewall.accepts]
    others = [
        rule
        for rule in firewall.accepts
        if rule not in _BASE_ACCEPTS and list(rule) != ["tcp dport"] and rule.get("udp dport") != [port]
    ]
    assert not missing, f"inet {NFT_TABLE} does not accept {missing}"
    assert not others, f"inet {NFT_TABLE} accepts more than netcfg allows: {others}"
